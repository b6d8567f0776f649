/* sim_usm.h — SNMPv3 User-based Security Model crypto (RFC 3414, 3826,
 * 7860) on OpenSSL: password-to-key localisation, HMAC authentication,
 * DES-CBC and AES-128-CFB privacy. */
#ifndef WT_SIM_USM_H
#define WT_SIM_USM_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

#define USM_MAX_KEY 64 /* SHA-512 */
#define USM_MAX_MAC 48

/* Digest length of the auth protocol's hash (0 for none). */
size_t usm_hash_len(enum sim_auth_proto p);
/* Length of the truncated HMAC carried in msgAuthenticationParameters. */
size_t usm_mac_len(enum sim_auth_proto p);
/* RFC 3414 A.2 password-to-key followed by localisation to engine_id.
 * key gets usm_hash_len(p) bytes. 0 or -EINVAL (password shorter than 8). */
__attribute__((warn_unused_result)) int usm_localize_key(enum sim_auth_proto p, const char *pass,
							 const uint8_t *engine_id, size_t elen,
							 uint8_t *key);
/* Truncated HMAC of msg with key into mac (usm_mac_len bytes). 0 or -EIO. */
__attribute__((warn_unused_result)) int usm_hmac(enum sim_auth_proto p, const uint8_t *key,
						 const uint8_t *msg, size_t len, uint8_t *mac);
/* Encrypts (enc=1) or decrypts (enc=0) in into out. DES pads to 8 bytes on
 * encryption; *out_len gets the result length (out needs len + 8 bytes).
 * salt is msgPrivacyParameters (8 bytes). 0, -EINVAL or -EIO. */
__attribute__((warn_unused_result)) int usm_crypt(enum sim_priv_proto p, int enc,
						  const uint8_t *privkey, uint32_t boots,
						  uint32_t etime, const uint8_t salt[8],
						  const uint8_t *in, size_t len, uint8_t *out,
						  size_t *out_len);
/* Loads OpenSSL's legacy provider for single DES; 0 or -ENOTSUP. */
int usm_init(void);
/* Unloads what usm_init loaded. */
void usm_fini(void);

#endif
