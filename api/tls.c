#include "tls.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void ssl_why(char *why, size_t whylen, const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(why, whylen, "%s %s: %s", what, path, e ? buf : "unknown error");
	ERR_clear_error();
}

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return -EIO;
	int ok = X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return ok ? 0 : -EIO;
}

int wt_tls_make_selfsigned(const char *cert_path, const char *key_path, char *why, size_t whylen)
{
	int rc = -EIO;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	FILE *f = NULL;
	char host[256] = "localhost", san[512];

	if (!key || !cert) {
		ssl_why(why, whylen, "generating a key for", cert_path);
		goto out;
	}
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert))) {
		BN_free(bn);
		goto out;
	}
	BN_free(bn);
	X509_set_version(cert, 2);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"wattrack", -1,
				   -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)host, -1, -1, 0);
	X509_set_issuer_name(cert, name);
	X509_set_pubkey(cert, key);
	snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,IP:::1%s%s",
		 strcmp(host, "localhost") ? ",DNS:" : "", strcmp(host, "localhost") ? host : "");
	if (add_ext(cert, NID_subject_alt_name, san) < 0 ||
	    add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(cert, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(cert, NID_ext_key_usage, "serverAuth") < 0) {
		ssl_why(why, whylen, "building", cert_path);
		goto out;
	}
	if (!X509_sign(cert, key, EVP_sha256())) {
		ssl_why(why, whylen, "signing", cert_path);
		goto out;
	}
	/* The key is created 0600 from the start, never chmod-ed afterwards. */
	int fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		rc = -errno;
		snprintf(why, whylen, "creating %s: %s", key_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (!PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		ssl_why(why, whylen, "writing", key_path);
		goto out;
	}
	fclose(f);
	f = fopen(cert_path, "w");
	if (!f) {
		rc = -errno;
		snprintf(why, whylen, "creating %s: %s", cert_path, strerror(errno));
		goto out;
	}
	if (!PEM_write_X509(f, cert) || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		ssl_why(why, whylen, "writing", cert_path);
		goto out;
	}
	rc = 0;
out:
	if (f)
		fclose(f);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

static int passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	const char *pw = u;
	if (!pw)
		return -1;
	size_t n = strlen(pw);
	if (n >= (size_t)size)
		return -1;
	memcpy(buf, pw, n);
	return (int)n;
}

static int ensure_dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

int wt_tls_server_ctx(SSL_CTX **out, const char *cert_file, const char *key_file,
		      const char *passphrase, const char *state_dir, char *why, size_t whylen)
{
	char cert_buf[1024], key_buf[1024];
	int rc;

	if (!cert_file || !*cert_file) {
		if (!state_dir || !*state_dir) {
			snprintf(why, whylen, "no TLS certificate configured and no state dir");
			return -EINVAL;
		}
		char dir[900];
		snprintf(dir, sizeof(dir), "%s/tls", state_dir);
		if ((rc = ensure_dir(dir, 0700)) < 0) {
			snprintf(why, whylen, "creating %s: %s", dir, strerror(-rc));
			return rc;
		}
		snprintf(cert_buf, sizeof(cert_buf), "%s/selfsigned.crt", dir);
		snprintf(key_buf, sizeof(key_buf), "%s/selfsigned.key", dir);
		cert_file = cert_buf;
		key_file = key_buf;
		passphrase = NULL;
		if (access(cert_file, R_OK) != 0 || access(key_file, R_OK) != 0) {
			rc = wt_tls_make_selfsigned(cert_file, key_file, why, whylen);
			if (rc < 0)
				return rc;
			wt_notice("api: generated a self-signed TLS certificate %s", cert_file);
		}
	}
	if (!key_file || !*key_file)
		key_file = cert_file; /* key and chain in one PEM file */

	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		ssl_why(why, whylen, "creating a TLS context for", cert_file);
		return -EIO;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* TLS 1.2: forward-secret AEAD suites only. */
	SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL:!MD5:!DSS");
	SSL_CTX_set_default_passwd_cb(ctx, passphrase_cb);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)passphrase);
	if (access(cert_file, R_OK) != 0) {
		rc = -errno;
		snprintf(why, whylen, "TLS certificate %s: %s", cert_file, strerror(errno));
		goto fail;
	}
	if (access(key_file, R_OK) != 0) {
		rc = -errno;
		snprintf(why, whylen, "TLS key %s: %s", key_file, strerror(errno));
		goto fail;
	}
	rc = -EINVAL;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		ssl_why(why, whylen, "loading certificate", cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		ssl_why(why, whylen, "loading key (wrong passphrase?)", key_file);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ssl_why(why, whylen, "key does not match certificate", key_file);
		goto fail;
	}
	/* The passphrase is needed only while loading. */
	SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
	*out = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return rc;
}
