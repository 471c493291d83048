/* link_auth.h - the link's shared secret and challenge-response proofs
 * (HMAC-SHA256 from libsodium; no hand-written crypto). */
#ifndef BROKER_LINK_AUTH_H
#define BROKER_LINK_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LINK_PROOF_SIZE 32
#define LINK_SECRET_MIN 16
#define LINK_SECRET_MAX 1024

int link_auth_init(void);
void link_auth_nonce(uint8_t *buf, size_t len);

/*
 * Load the secret from path; if the file does not exist, create it (0600,
 * 32 random bytes, hex) when create is set.  A file readable by group or
 * others is refused ("chmod 600 PATH").  *secret is malloc'd.
 */
int link_secret_load(const char *path, bool create, uint8_t **secret, size_t *len, char *err, size_t errlen);
/* --check-config: would link_secret_load succeed?  An absent file is fine (it is created at start). */
int link_secret_check(const char *path, char *err, size_t errlen);

/*
 * proof = HMAC-SHA256(secret, "broker-link-v3 proof" | role | th) where role
 * is 'D' for the dialer and 'A' for the acceptor, so a proof can never be
 * reflected back at its sender, and th is the transcript of both HELLOs
 * (link_transcript in link_crypto.h): both nonces, both ids, every flag.
 */
void link_auth_proof(const uint8_t *secret, size_t secret_len, bool prover_is_dialer, const uint8_t th[32],
                     uint8_t proof[LINK_PROOF_SIZE]);
/* Constant-time check of a proof the other side sent. */
bool link_auth_verify(const uint8_t *secret, size_t secret_len, bool prover_is_dialer, const uint8_t th[32],
                      const uint8_t *proof, size_t len);

#endif
