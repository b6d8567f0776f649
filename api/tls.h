/* The HTTPS server's TLS context: TLS 1.2 and 1.3 only, a configured PEM
 * certificate chain and key (optionally passphrase-protected), or a
 * self-signed certificate generated once and kept under the state dir. */
#ifndef WT_TLS_H
#define WT_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

/* Builds a server context. With cert_file empty, uses (or first creates)
 * state_dir/tls/selfsigned.{crt,key}, the key mode 0600. why names the
 * problem (file, reason) on failure. Returns 0, -ENOENT, -EACCES, -EINVAL
 * or -EIO. */
int wt_tls_server_ctx(SSL_CTX **out, const char *cert_file, const char *key_file,
		      const char *passphrase, const char *state_dir, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* Writes a new self-signed certificate (EC P-256, SAN localhost, 127.0.0.1,
 * ::1 and the host name, ten years) to cert_path and key_path (0600).
 * Returns 0 or a negative errno. */
int wt_tls_make_selfsigned(const char *cert_path, const char *key_path, char *why, size_t whylen)
	__attribute__((warn_unused_result));

#endif
