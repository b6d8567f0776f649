#include "password.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SALT_LEN 16
#define KEY_LEN 32
#define SCRYPT_R 8
#define SCRYPT_P 1

bool wt_password_acceptable(const struct wt_password_policy *p, const char *pw, char *why,
			    size_t whylen)
{
	size_t n = strlen(pw);
	int min = p->min_length < 8 ? 8 : p->min_length;
	int max = p->max_length > 0 ? p->max_length : 1024;

	if (n < (size_t)min) {
		snprintf(why, whylen, "password must have at least %d characters", min);
		return false;
	}
	if (n > (size_t)max) {
		snprintf(why, whylen, "password must have at most %d characters", max);
		return false;
	}
	return true;
}

static int derive(const char *pw, const unsigned char *salt, size_t saltlen, int log2n, int r,
		  int p, unsigned char *key, size_t keylen)
{
	if (log2n < 1 || log2n > 22 || r < 1 || r > 32 || p < 1 || p > 16)
		return -EINVAL;
	/* scrypt needs 128 * r * N * p bytes; allow that plus slack, since
	 * OpenSSL's default cap (32 MiB) is exactly our default cost. */
	uint64_t maxmem = (uint64_t)128 * (uint64_t)r * ((uint64_t)1 << log2n) * (uint64_t)p +
			  (16u << 20);
	if (EVP_PBE_scrypt(pw, strlen(pw), salt, saltlen, (uint64_t)1 << log2n, (uint64_t)r,
			   (uint64_t)p, maxmem, key, keylen) != 1)
		return -EIO;
	return 0;
}

int wt_password_hash(const struct wt_password_policy *p, const char *pw, char *out, size_t outlen)
{
	unsigned char salt[SALT_LEN], key[KEY_LEN];
	char salt64[32], key64[64];
	int log2n = p->scrypt_log2n > 0 ? p->scrypt_log2n : 15;

	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return -EIO;
	int rc = derive(pw, salt, sizeof(salt), log2n, SCRYPT_R, SCRYPT_P, key, sizeof(key));
	if (rc < 0)
		return rc;
	EVP_EncodeBlock((unsigned char *)salt64, salt, sizeof(salt));
	EVP_EncodeBlock((unsigned char *)key64, key, sizeof(key));
	OPENSSL_cleanse(key, sizeof(key));
	int n = snprintf(out, outlen, "$scrypt$ln=%d,r=%d,p=%d$%s$%s", log2n, SCRYPT_R, SCRYPT_P,
			 salt64, key64);
	return n > 0 && (size_t)n < outlen ? 0 : -ENOSPC;
}

/* Decodes standard base64 without trailing garbage; returns length or -1. */
static int b64_decode(const char *in, size_t inlen, unsigned char *out, size_t outcap)
{
	if (inlen == 0 || inlen % 4 != 0 || inlen / 4 * 3 > outcap)
		return -1;
	int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)inlen);
	if (n < 0)
		return -1;
	if (in[inlen - 1] == '=')
		n--;
	if (in[inlen - 2] == '=')
		n--;
	return n;
}

bool wt_password_verify(const char *stored, const char *pw)
{
	int log2n, r, p, used = 0;
	unsigned char salt[64], want[64], got[64];

	if (!stored || !pw)
		return false;
	if (sscanf(stored, "$scrypt$ln=%d,r=%d,p=%d$%n", &log2n, &r, &p, &used) != 3 || used == 0)
		return false;
	const char *s = stored + used;
	const char *dollar = strchr(s, '$');
	if (!dollar)
		return false;
	int saltlen = b64_decode(s, (size_t)(dollar - s), salt, sizeof(salt));
	int keylen = b64_decode(dollar + 1, strlen(dollar + 1), want, sizeof(want));
	if (saltlen < 8 || keylen < 16)
		return false;
	if (derive(pw, salt, (size_t)saltlen, log2n, r, p, got, (size_t)keylen) < 0)
		return false;
	bool ok = CRYPTO_memcmp(got, want, (size_t)keylen) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}

bool wt_password_needs_rehash(const struct wt_password_policy *p, const char *stored)
{
	int log2n, r, pp;
	int want = p->scrypt_log2n > 0 ? p->scrypt_log2n : 15;
	if (!stored || sscanf(stored, "$scrypt$ln=%d,r=%d,p=%d$", &log2n, &r, &pp) != 3)
		return true;
	return log2n != want || r != SCRYPT_R || pp != SCRYPT_P;
}

int wt_password_random(char *out, size_t len)
{
	/* No 0/O, 1/l/I: the operator types it from a log line. */
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
	const size_t n = sizeof(alphabet) - 1;

	for (size_t i = 0; i < len;) {
		unsigned char b;
		if (RAND_bytes(&b, 1) != 1)
			return -EIO;
		/* Rejection sampling keeps every character equally likely. */
		if (b >= 256 - 256 % n)
			continue;
		out[i++] = alphabet[b % n];
	}
	out[len] = '\0';
	return 0;
}
