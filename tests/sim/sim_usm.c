/* sim_usm.c — USM crypto on OpenSSL for the SNMP agent of wattrack-sim. */
#include "sim_usm.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/provider.h>
#include <string.h>

static const EVP_MD *md_of(enum sim_auth_proto p)
{
	switch (p) {
	case SIM_AUTH_MD5: return EVP_md5();
	case SIM_AUTH_SHA1: return EVP_sha1();
	case SIM_AUTH_SHA224: return EVP_sha224();
	case SIM_AUTH_SHA256: return EVP_sha256();
	case SIM_AUTH_SHA384: return EVP_sha384();
	case SIM_AUTH_SHA512: return EVP_sha512();
	default: return NULL;
	}
}

size_t usm_hash_len(enum sim_auth_proto p)
{
	const EVP_MD *md = md_of(p);
	return md ? (size_t)EVP_MD_get_size(md) : 0;
}

size_t usm_mac_len(enum sim_auth_proto p)
{
	switch (p) {
	case SIM_AUTH_MD5:
	case SIM_AUTH_SHA1: return 12;
	case SIM_AUTH_SHA224: return 16;
	case SIM_AUTH_SHA256: return 24;
	case SIM_AUTH_SHA384: return 32;
	case SIM_AUTH_SHA512: return 48;
	default: return 0;
	}
}

int usm_localize_key(enum sim_auth_proto p, const char *pass, const uint8_t *engine_id,
		     size_t elen, uint8_t *key)
{
	const EVP_MD *md = md_of(p);
	size_t plen = strlen(pass);
	if (!md || plen < 8 || elen > 64)
		return -EINVAL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	uint8_t buf[64], ku[USM_MAX_KEY];
	unsigned kl = 0;
	int ok = EVP_DigestInit_ex(ctx, md, NULL);
	/* hash 1 MiB of the password repeated */
	size_t idx = 0;
	for (size_t count = 0; ok && count < 1048576; count += 64) {
		for (int i = 0; i < 64; i++)
			buf[i] = (uint8_t)pass[idx++ % plen];
		ok = EVP_DigestUpdate(ctx, buf, 64);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, ku, &kl);
	/* localise: H(ku || engineID || ku) */
	ok = ok && EVP_DigestInit_ex(ctx, md, NULL) && EVP_DigestUpdate(ctx, ku, kl) &&
	     EVP_DigestUpdate(ctx, engine_id, elen) && EVP_DigestUpdate(ctx, ku, kl) &&
	     EVP_DigestFinal_ex(ctx, key, &kl);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

int usm_hmac(enum sim_auth_proto p, const uint8_t *key, const uint8_t *msg, size_t len, uint8_t *mac)
{
	const EVP_MD *md = md_of(p);
	if (!md)
		return -EINVAL;
	uint8_t full[EVP_MAX_MD_SIZE];
	unsigned fl = 0;
	if (!HMAC(md, key, (int)usm_hash_len(p), msg, len, full, &fl))
		return -EIO;
	memcpy(mac, full, usm_mac_len(p));
	return 0;
}

int usm_crypt(enum sim_priv_proto p, int enc, const uint8_t *privkey, uint32_t boots,
	      uint32_t etime, const uint8_t salt[8], const uint8_t *in, size_t len, uint8_t *out,
	      size_t *out_len)
{
	uint8_t iv[16];
	const EVP_CIPHER *c;
	size_t n = len;
	if (p == SIM_PRIV_DES) {
		c = EVP_des_cbc();
		for (int i = 0; i < 8; i++)
			iv[i] = privkey[8 + i] ^ salt[i];
		if (enc)
			n = (len + 7) / 8 * 8;
		else if (len % 8)
			return -EINVAL;
	} else if (p == SIM_PRIV_AES128) {
		c = EVP_aes_128_cfb128();
		iv[0] = (uint8_t)(boots >> 24);
		iv[1] = (uint8_t)(boots >> 16);
		iv[2] = (uint8_t)(boots >> 8);
		iv[3] = (uint8_t)boots;
		iv[4] = (uint8_t)(etime >> 24);
		iv[5] = (uint8_t)(etime >> 16);
		iv[6] = (uint8_t)(etime >> 8);
		iv[7] = (uint8_t)etime;
		memcpy(iv + 8, salt, 8);
	} else {
		return -EINVAL;
	}
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -ENOMEM;
	int ok = EVP_CipherInit_ex(ctx, c, NULL, privkey, iv, enc);
	ok = ok && EVP_CIPHER_CTX_set_padding(ctx, 0);
	int l1 = 0, l2 = 0;
	if (ok && p == SIM_PRIV_DES && enc && n != len) {
		uint8_t pad[8] = {0};
		size_t full = len / 8 * 8;
		int a = 0, b = 0;
		ok = EVP_CipherUpdate(ctx, out, &a, in, (int)full);
		memcpy(pad, in + full, len - full);
		ok = ok && EVP_CipherUpdate(ctx, out + a, &b, pad, 8);
		l1 = a + b;
	} else if (ok) {
		ok = EVP_CipherUpdate(ctx, out, &l1, in, (int)len);
	}
	ok = ok && EVP_CipherFinal_ex(ctx, out + l1, &l2);
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		return -EIO;
	*out_len = (size_t)(l1 + l2);
	return 0;
}

static OSSL_PROVIDER *prov_legacy, *prov_default;

int usm_init(void)
{
	/* Single DES lives in the legacy provider since OpenSSL 3; loading it
	 * explicitly also requires loading the default one again. */
	if (!prov_legacy)
		prov_legacy = OSSL_PROVIDER_load(NULL, "legacy");
	if (!prov_default)
		prov_default = OSSL_PROVIDER_load(NULL, "default");
	return prov_legacy && prov_default ? 0 : -ENOTSUP;
}

void usm_fini(void)
{
	if (prov_legacy)
		OSSL_PROVIDER_unload(prov_legacy);
	if (prov_default)
		OSSL_PROVIDER_unload(prov_default);
	prov_legacy = prov_default = NULL;
}
