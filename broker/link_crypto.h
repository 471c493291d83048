/* link_crypto.h - the link's record layer on carriers that leave the
 * machine (tcp): after the handshake every byte each way travels in sealed
 * records, so nothing can be read, changed, dropped, replayed or reordered
 * unnoticed.  libsodium's AES-256-GCM where both ends have the hardware for
 * it, else its ChaCha20-Poly1305 (IETF); no hand-written crypto.
 * broker-link(7) "Encryption" states the construction.
 *
 *   record = u32 LE length | ciphertext (length bytes, tag included)
 *   ciphertext = AEAD(key of this direction, nonce = 0^4 | u64 LE record
 *                counter, ad = the 4 length bytes, plaintext)
 *
 * The plaintext is the link's ordinary frame stream cut anywhere, at most
 * LINK_RECORD_MAX bytes a record.  Keys come from the shared secret, both
 * HELLO nonces and the transcript of both HELLOs (link_crypto_keys). */
#ifndef BROKER_LINK_CRYPTO_H
#define BROKER_LINK_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>

struct evbuffer;

#define LINK_RECORD_MAX (64u * 1024)      /* plaintext bytes in one record */
#define LINK_RECORD_TAG 16u
#define LINK_RECORD_HEADER 4u
#define LINK_KEY_SIZE 32u
#define LINK_TRANSCRIPT_SIZE 32u

/* The AEAD both ends chose from their HELLOs: AES-256-GCM only when both have AES-NI (or the like). */
enum link_aead { LINK_AEAD_CHACHA20POLY1305 = 0, LINK_AEAD_AES256GCM = 1 };

struct link_cipher {
	crypto_aead_aes256gcm_state aes;   /* expanded key, for LINK_AEAD_AES256GCM */
	uint8_t key[LINK_KEY_SIZE];
	uint64_t counter;             /* records sealed (or opened) so far */
	enum link_aead aead;
};

/* One link's two directions. */
struct link_crypto {
	struct link_cipher tx, rx;
	bool tx_on, rx_on;            /* switched on after AUTH_OK each way */
};

/* Can this machine seal with AES-256-GCM (libsodium needs AES-NI and PCLMUL for it)? */
bool link_crypto_aes_available(void);
const char *link_aead_name(enum link_aead a);

/*
 * th = BLAKE2b-256("broker-link-v3 transcript" | u32 LE len | dialer's HELLO
 * payload | u32 LE len | acceptor's HELLO payload): what both sides said,
 * bound into the proofs and the keys, so a changed HELLO (a flag, a
 * version, a nonce) fails authentication.
 */
void link_transcript(const uint8_t *dialer_hello, size_t dlen, const uint8_t *acceptor_hello, size_t alen,
                     uint8_t th[LINK_TRANSCRIPT_SIZE]);

/*
 * HKDF-SHA256: prk = HMAC(salt = dialer nonce | acceptor nonce, secret);
 * each direction's key = HMAC(prk, "broker-link-v3 " ("dialer to acceptor"
 * or "acceptor to dialer") | th | 0x01).  dialer: we dialed, so our tx is
 * the dialer-to-acceptor key.  Counters start at 0.  The cipher is aead
 * (the transcript already binds which one both ends offered).
 */
void link_crypto_keys(const uint8_t *secret, size_t secret_len, const uint8_t dialer_nonce[32],
                      const uint8_t acceptor_nonce[32], const uint8_t th[LINK_TRANSCRIPT_SIZE], bool dialer,
                      enum link_aead aead, struct link_crypto *c);

/* Seal up to LINK_RECORD_MAX bytes from the front of plain as one record appended to wire.  0 or -ENOMEM. */
int link_crypto_seal(struct link_cipher *tx, struct evbuffer *plain, size_t n, struct evbuffer *wire);

/*
 * Open every complete record at the front of wire into plain.  0 (an
 * incomplete record stays in wire), -EPROTO for a length out of bounds,
 * -EBADMSG when a record does not verify (tampered, replayed, reordered,
 * or sealed with another key); why says which.
 */
int link_crypto_open(struct link_cipher *rx, struct evbuffer *wire, struct evbuffer *plain, char *why, size_t whylen);

void link_crypto_wipe(struct link_crypto *c);

#endif
