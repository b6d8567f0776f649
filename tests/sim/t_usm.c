/* t_usm.c — USM crypto of wattrack-sim: RFC 3414 A.3 key localisation
 * vectors, HMAC lengths per RFC 3414/7860, DES and AES round trips. */
#include <stdio.h>
#include <string.h>

#include "sim_usm.h"

#include "../lib/check.h"

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

int main(void)
{
	CHECK(usm_init() == 0, "OpenSSL providers");
	/* RFC 3414 A.3.1 and A.3.2: "maplesyrup", engine 00..02 */
	static const uint8_t eid[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
	uint8_t key[USM_MAX_KEY];
	char h[2 * USM_MAX_KEY + 1];
	CHECK(usm_localize_key(SIM_AUTH_MD5, "maplesyrup", eid, sizeof(eid), key) == 0, "md5 key");
	hex(key, 16, h);
	CHECK(strcmp(h, "526f5eed9fcce26f8964c2930787d82b") == 0, "MD5 localized key %s", h);
	CHECK(usm_localize_key(SIM_AUTH_SHA1, "maplesyrup", eid, sizeof(eid), key) == 0, "sha key");
	hex(key, 20, h);
	CHECK(strcmp(h, "6695febc9288e36282235fc7151f128497b38f3f") == 0, "SHA-1 localized key %s", h);
	CHECK(usm_localize_key(SIM_AUTH_SHA256, "short", eid, sizeof(eid), key) < 0,
	      "passwords under 8 characters refused");
	/* MAC lengths: RFC 3414 (12) and RFC 7860 (16, 24, 32, 48) */
	static const struct {
		enum sim_auth_proto p;
		size_t hash, mac;
	} lens[] = {{SIM_AUTH_MD5, 16, 12},    {SIM_AUTH_SHA1, 20, 12},   {SIM_AUTH_SHA224, 28, 16},
		    {SIM_AUTH_SHA256, 32, 24}, {SIM_AUTH_SHA384, 48, 32}, {SIM_AUTH_SHA512, 64, 48}};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		CHECK(usm_hash_len(lens[i].p) == lens[i].hash && usm_mac_len(lens[i].p) == lens[i].mac,
		      "lengths of auth protocol %d", lens[i].p);
		uint8_t k[USM_MAX_KEY], mac1[USM_MAX_MAC], mac2[USM_MAX_MAC];
		CHECK(usm_localize_key(lens[i].p, "a-good-password", eid, sizeof(eid), k) == 0, "key %d", lens[i].p);
		const uint8_t msg[] = "a message to authenticate";
		CHECK(usm_hmac(lens[i].p, k, msg, sizeof(msg), mac1) == 0, "hmac");
		k[0] ^= 1;
		CHECK(usm_hmac(lens[i].p, k, msg, sizeof(msg), mac2) == 0 && memcmp(mac1, mac2, lens[i].mac) != 0,
		      "HMAC depends on the key (%d)", lens[i].p);
	}
	/* privacy round trips */
	uint8_t pk[USM_MAX_KEY];
	CHECK(usm_localize_key(SIM_AUTH_SHA1, "privacy-password", eid, sizeof(eid), pk) == 0, "priv key");
	const uint8_t salt[8] = {0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef};
	for (int p = SIM_PRIV_DES; p <= SIM_PRIV_AES128; p++) {
		for (size_t len = 1; len < 70; len += 13) {
			uint8_t in[80], ct[96], back[96];
			for (size_t i = 0; i < len; i++)
				in[i] = (uint8_t)(i * 7 + 3);
			size_t cl = 0, bl = 0;
			CHECK(usm_crypt((enum sim_priv_proto)p, 1, pk, 5, 1234, salt, in, len, ct, &cl) == 0,
			      "encrypt %d/%zu", p, len);
			CHECK(p == SIM_PRIV_DES ? cl % 8 == 0 && cl >= len && cl < len + 8 : cl == len,
			      "ciphertext length %zu for %zu (%d)", cl, len, p);
			CHECK(memcmp(ct, in, len) != 0, "ciphertext differs");
			CHECK(usm_crypt((enum sim_priv_proto)p, 0, pk, 5, 1234, salt, ct, cl, back, &bl) == 0 &&
				      memcmp(back, in, len) == 0,
			      "decrypt round trip %d/%zu", p, len);
			if (p == SIM_PRIV_AES128) {
				/* the AES IV carries engineBoots/Time: other values decrypt wrongly */
				CHECK(usm_crypt(SIM_PRIV_AES128, 0, pk, 6, 1234, salt, ct, cl, back, &bl) == 0 &&
					      (len < 2 || memcmp(back, in, len) != 0),
				      "AES IV uses engineBoots");
			}
		}
	}
	uint8_t odd[7] = {0}, o2[16];
	size_t ol;
	CHECK(usm_crypt(SIM_PRIV_DES, 0, pk, 1, 1, salt, odd, 7, o2, &ol) < 0,
	      "DES ciphertext not a multiple of 8 refused");
	usm_fini();
	if (failures)
		printf("%d failures\n", failures);
	else
		printf("all USM checks passed\n");
	return failures ? 1 : 0;
}
