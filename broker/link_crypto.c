/* link_crypto.c - the link's sealed records (see link_crypto.h): the
 * transcript hash, HKDF-SHA256 key derivation and AES-256-GCM or
 * ChaCha20-Poly1305 records, all from libsodium. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include <event2/buffer.h>

#include "broker/errfmt.h"
#include "broker/link_crypto.h"

static void put_u32(uint8_t p[4], uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t p[4])
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void link_transcript(const uint8_t *dialer_hello, size_t dlen, const uint8_t *acceptor_hello, size_t alen,
                     uint8_t th[LINK_TRANSCRIPT_SIZE])
{
	static const char label[] = "broker-link-v3 transcript";
	crypto_generichash_state st;
	uint8_t n[4];

	crypto_generichash_init(&st, NULL, 0, LINK_TRANSCRIPT_SIZE);
	crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
	put_u32(n, (uint32_t)dlen);
	crypto_generichash_update(&st, n, sizeof(n));
	crypto_generichash_update(&st, dialer_hello, dlen);
	put_u32(n, (uint32_t)alen);
	crypto_generichash_update(&st, n, sizeof(n));
	crypto_generichash_update(&st, acceptor_hello, alen);
	crypto_generichash_final(&st, th, LINK_TRANSCRIPT_SIZE);
}

/* HKDF-Expand for one 32-byte block: HMAC(prk, info | th | 0x01). */
static void expand(const uint8_t prk[32], const char *info, const uint8_t th[LINK_TRANSCRIPT_SIZE],
                   uint8_t out[LINK_KEY_SIZE])
{
	crypto_auth_hmacsha256_state st;
	const uint8_t one = 1;

	crypto_auth_hmacsha256_init(&st, prk, 32);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)info, strlen(info));
	crypto_auth_hmacsha256_update(&st, th, LINK_TRANSCRIPT_SIZE);
	crypto_auth_hmacsha256_update(&st, &one, 1);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

bool link_crypto_aes_available(void)
{
	return crypto_aead_aes256gcm_is_available() != 0;
}

const char *link_aead_name(enum link_aead a)
{
	return a == LINK_AEAD_AES256GCM ? "AES-256-GCM" : "ChaCha20-Poly1305";
}

void link_crypto_keys(const uint8_t *secret, size_t secret_len, const uint8_t dialer_nonce[32],
                      const uint8_t acceptor_nonce[32], const uint8_t th[LINK_TRANSCRIPT_SIZE], bool dialer,
                      enum link_aead aead, struct link_crypto *c)
{
	crypto_auth_hmacsha256_state st;
	uint8_t salt[64], prk[32], d2a[LINK_KEY_SIZE], a2d[LINK_KEY_SIZE];

	/* HKDF-Extract: the nonces are the salt, the secret the input keying material. */
	memcpy(salt, dialer_nonce, 32);
	memcpy(salt + 32, acceptor_nonce, 32);
	crypto_auth_hmacsha256_init(&st, salt, sizeof(salt));
	crypto_auth_hmacsha256_update(&st, secret, secret_len);
	crypto_auth_hmacsha256_final(&st, prk);
	expand(prk, "broker-link-v3 dialer to acceptor", th, d2a);
	expand(prk, "broker-link-v3 acceptor to dialer", th, a2d);
	memset(c, 0, sizeof(*c));
	memcpy(c->tx.key, dialer ? d2a : a2d, LINK_KEY_SIZE);
	memcpy(c->rx.key, dialer ? a2d : d2a, LINK_KEY_SIZE);
	c->tx.aead = c->rx.aead = aead;
	if (aead == LINK_AEAD_AES256GCM) {
		crypto_aead_aes256gcm_beforenm(&c->tx.aes, c->tx.key);
		crypto_aead_aes256gcm_beforenm(&c->rx.aes, c->rx.key);
	}
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(d2a, sizeof(d2a));
	sodium_memzero(a2d, sizeof(a2d));
}

/* Both AEADs take a 12-byte nonce: 4 zero bytes, then the record counter. */
#define NONCE_SIZE 12
static void nonce_of(uint64_t counter, uint8_t nonce[NONCE_SIZE])
{
	memset(nonce, 0, NONCE_SIZE);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

static void aead_seal(const struct link_cipher *k, uint8_t *c, unsigned long long *clen, const uint8_t *m, size_t n,
                      const uint8_t *ad, const uint8_t nonce[NONCE_SIZE])
{
	if (k->aead == LINK_AEAD_AES256GCM)
		crypto_aead_aes256gcm_encrypt_afternm(c, clen, m, n, ad, LINK_RECORD_HEADER, NULL, nonce, &k->aes);
	else
		crypto_aead_chacha20poly1305_ietf_encrypt(c, clen, m, n, ad, LINK_RECORD_HEADER, NULL, nonce, k->key);
}

static int aead_open(const struct link_cipher *k, uint8_t *m, unsigned long long *mlen, const uint8_t *c, size_t n,
                     const uint8_t *ad, const uint8_t nonce[NONCE_SIZE])
{
	if (k->aead == LINK_AEAD_AES256GCM)
		return crypto_aead_aes256gcm_decrypt_afternm(m, mlen, NULL, c, n, ad, LINK_RECORD_HEADER, nonce, &k->aes);
	return crypto_aead_chacha20poly1305_ietf_decrypt(m, mlen, NULL, c, n, ad, LINK_RECORD_HEADER, nonce, k->key);
}

int link_crypto_seal(struct link_cipher *tx, struct evbuffer *plain, size_t n, struct evbuffer *wire)
{
	uint8_t nonce[NONCE_SIZE];
	struct evbuffer_iovec v;
	unsigned long long clen;
	const uint8_t *m;

	if (n > evbuffer_get_length(plain))
		n = evbuffer_get_length(plain);
	if (n > LINK_RECORD_MAX)
		n = LINK_RECORD_MAX;
	m = evbuffer_pullup(plain, (ev_ssize_t)n);
	if ((!m && n) || evbuffer_reserve_space(wire, (ev_ssize_t)(LINK_RECORD_HEADER + n + LINK_RECORD_TAG), &v, 1) < 1)
		return -ENOMEM;
	uint8_t *out = v.iov_base;
	put_u32(out, (uint32_t)(n + LINK_RECORD_TAG));
	nonce_of(tx->counter++, nonce);
	aead_seal(tx, out + LINK_RECORD_HEADER, &clen, m ? m : (const uint8_t *)"", n, out, nonce);
	v.iov_len = LINK_RECORD_HEADER + (size_t)clen;
	if (evbuffer_commit_space(wire, &v, 1) < 0)
		return -ENOMEM;
	evbuffer_drain(plain, n);
	return 0;
}

int link_crypto_open(struct link_cipher *rx, struct evbuffer *wire, struct evbuffer *plain, char *why, size_t whylen)
{
	for (;;) {
		uint8_t hdr[LINK_RECORD_HEADER], nonce[NONCE_SIZE];
		struct evbuffer_iovec v;
		unsigned long long mlen;
		const uint8_t *rec;
		uint32_t len;

		if (evbuffer_copyout(wire, hdr, sizeof(hdr)) < (ev_ssize_t)sizeof(hdr))
			return 0;
		len = get_u32(hdr);
		/* Checked before anything is buffered for it: a record is at most 64 KiB and a tag. */
		if (len < LINK_RECORD_TAG || len > LINK_RECORD_MAX + LINK_RECORD_TAG)
			return errfmt(why, whylen, -EPROTO, "sealed record of %u bytes (allowed %u..%u)", len,
			              LINK_RECORD_TAG, LINK_RECORD_MAX + LINK_RECORD_TAG);
		if (evbuffer_get_length(wire) < LINK_RECORD_HEADER + (size_t)len)
			return 0;
		rec = evbuffer_pullup(wire, (ev_ssize_t)(LINK_RECORD_HEADER + len));
		if (!rec || evbuffer_reserve_space(plain, (ev_ssize_t)(len - LINK_RECORD_TAG + 1), &v, 1) < 1)
			return errfmt(why, whylen, -ENOMEM, "out of memory");
		nonce_of(rx->counter, nonce);
		if (aead_open(rx, v.iov_base, &mlen, rec + LINK_RECORD_HEADER, len, rec, nonce) != 0)
			return errfmt(why, whylen, -EBADMSG,
			              "sealed record %llu does not verify: changed, replayed or reordered on the way, or "
			              "sealed with another key",
			              (unsigned long long)rx->counter);
		rx->counter++;
		v.iov_len = (size_t)mlen;
		evbuffer_commit_space(plain, &v, 1);
		evbuffer_drain(wire, LINK_RECORD_HEADER + len);
	}
}

void link_crypto_wipe(struct link_crypto *c)
{
	sodium_memzero(c, sizeof(*c));
}
