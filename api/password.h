/* Local password hashes: salted scrypt (OpenSSL EVP_PBE_scrypt) stored with
 * its parameters, "$scrypt$ln=15,r=8,p=1$<salt>$<hash>" (base64), so the
 * cost can rise later without invalidating stored hashes. Slow on purpose:
 * call on a worker, never on the loop. */
#ifndef WT_PASSWORD_H
#define WT_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

struct wt_password_policy {
	int min_length;   /* characters (bytes of UTF-8); at least 8 (12) */
	int max_length;   /* refuse absurd inputs (1024) */
	int scrypt_log2n; /* scrypt cost N = 2^log2n (15: 32 MiB, ~0.1 s) */
};

#define WT_PASSWORD_HASH_MAX 160

/* Checks pw against the policy; on refusal writes why into why. */
bool wt_password_acceptable(const struct wt_password_policy *p, const char *pw, char *why,
			    size_t whylen);

/* Hashes pw with a fresh random salt into out (WT_PASSWORD_HASH_MAX).
 * Returns 0 or -EIO. */
int wt_password_hash(const struct wt_password_policy *p, const char *pw, char *out, size_t outlen)
	__attribute__((warn_unused_result));

/* True when pw matches the stored hash string (constant-time compare).
 * A malformed stored string never matches. */
bool wt_password_verify(const char *stored, const char *pw);

/* True when stored was made with a cost other than the policy's (or is
 * unreadable): after a good login it should be hashed again. */
bool wt_password_needs_rehash(const struct wt_password_policy *p, const char *stored);

/* A random password of len characters from an unambiguous alphabet into
 * out (len + 1 bytes). Returns 0 or -EIO. */
int wt_password_random(char *out, size_t len) __attribute__((warn_unused_result));

#endif
