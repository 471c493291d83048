/* test_link_crypto.c - the link's sealed records and its handshake proofs
 * (broker/link_crypto.c, broker/link_auth.c): both sides derive the same
 * keys per direction, records round-trip whole at every size and split,
 * and a changed, replayed, reordered, truncated or foreign record is
 * refused, as is a length out of bounds before anything is buffered. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include <event2/buffer.h>

#include "broker/link_auth.h"
#include "broker/link_crypto.h"
#include "tests/unit/tap.h"

static const uint8_t secret[] = "a shared secret of some length";
static uint8_t dn[32], an[32], th[LINK_TRANSCRIPT_SIZE];

static enum link_aead aead = LINK_AEAD_CHACHA20POLY1305;

static void pair(struct link_crypto *d, struct link_crypto *a)
{
	link_crypto_keys(secret, sizeof(secret) - 1, dn, an, th, true, aead, d);
	link_crypto_keys(secret, sizeof(secret) - 1, dn, an, th, false, aead, a);
}

/* Seal n bytes of pattern into wire; the plaintext sealed is left in sent. */
static void seal_n(struct link_cipher *tx, struct evbuffer *wire, size_t n, uint8_t seed, struct evbuffer *sent)
{
	struct evbuffer *plain = evbuffer_new();
	for (size_t i = 0; i < n; i++) {
		uint8_t b = (uint8_t)(seed + i * 7);
		evbuffer_add(plain, &b, 1);
		evbuffer_add(sent, &b, 1);
	}
	while (evbuffer_get_length(plain) > 0)
		link_crypto_seal(tx, plain, LINK_RECORD_MAX, wire);
	if (n == 0)
		link_crypto_seal(tx, plain, 0, wire);
	evbuffer_free(plain);
}

static bool same(struct evbuffer *a, struct evbuffer *b)
{
	size_t n = evbuffer_get_length(a);
	if (n != evbuffer_get_length(b))
		return false;
	return n == 0 || memcmp(evbuffer_pullup(a, -1), evbuffer_pullup(b, -1), n) == 0;
}

static void test_keys_and_transcript(void)
{
	struct link_crypto d, a, other;
	uint8_t th2[LINK_TRANSCRIPT_SIZE], proof[LINK_PROOF_SIZE];

	pair(&d, &a);
	ok(!memcmp(d.tx.key, a.rx.key, LINK_KEY_SIZE) && !memcmp(d.rx.key, a.tx.key, LINK_KEY_SIZE),
	   "the dialer's send key is the acceptor's receive key, and back");
	ok(memcmp(d.tx.key, d.rx.key, LINK_KEY_SIZE) != 0, "the two directions have different keys");
	link_crypto_keys((const uint8_t *)"another secret entirely", 23, dn, an, th, true, aead, &other);
	ok(memcmp(other.tx.key, d.tx.key, LINK_KEY_SIZE) != 0, "another secret, other keys");
	an[0] ^= 1;
	link_crypto_keys(secret, sizeof(secret) - 1, dn, an, th, true, aead, &other);
	an[0] ^= 1;
	ok(memcmp(other.tx.key, d.tx.key, LINK_KEY_SIZE) != 0, "another nonce, other keys");

	link_transcript((const uint8_t *)"hello-D", 7, (const uint8_t *)"hello-a", 7, th2);
	ok(memcmp(th2, th, sizeof(th)) != 0, "a different HELLO, a different transcript");
	link_transcript((const uint8_t *)"hello-a", 7, (const uint8_t *)"hello-d", 7, th2);
	{
		uint8_t th3[LINK_TRANSCRIPT_SIZE];
		link_transcript((const uint8_t *)"hello-d", 7, (const uint8_t *)"hello-a", 7, th3);
		ok(memcmp(th2, th3, sizeof(th2)) != 0, "the transcript is ordered: dialer first");
		link_transcript((const uint8_t *)"hello-dh", 8, (const uint8_t *)"ello-a", 6, th2);
		ok(memcmp(th2, th3, sizeof(th2)) != 0, "lengths are part of it (no shifting bytes across)");
	}
	link_auth_proof(secret, sizeof(secret) - 1, true, th, proof);
	ok(link_auth_verify(secret, sizeof(secret) - 1, true, th, proof, sizeof(proof)), "a proof verifies");
	ok(!link_auth_verify(secret, sizeof(secret) - 1, false, th, proof, sizeof(proof)),
	   "the dialer's proof is not the acceptor's (no reflection)");
	ok(!link_auth_verify(secret, sizeof(secret) - 1, true, th2, proof, sizeof(proof)),
	   "a proof over another transcript does not verify");
	ok(!link_auth_verify(secret, sizeof(secret) - 1, true, th, proof, sizeof(proof) - 1), "a short proof fails");
}

static void test_round_trips(void)
{
	static const size_t sizes[] = { 0, 1, 12, 4096, LINK_RECORD_MAX - 1, LINK_RECORD_MAX, LINK_RECORD_MAX + 1,
		                        3 * LINK_RECORD_MAX + 17 };
	struct link_crypto d, a;
	char why[256];

	pair(&d, &a);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct evbuffer *wire = evbuffer_new(), *sent = evbuffer_new(), *got = evbuffer_new();
		seal_n(&d.tx, wire, sizes[k], (uint8_t)k, sent);
		size_t wl = evbuffer_get_length(wire);
		/* Deliver it a few bytes at a time, as a carrier might. */
		struct evbuffer *in = evbuffer_new();
		int rc = 0;
		while (rc == 0 && evbuffer_get_length(wire) > 0) {
			evbuffer_remove_buffer(wire, in, 1000);
			rc = link_crypto_open(&a.rx, in, got, why, sizeof(why));
		}
		ok(rc == 0 && same(sent, got) && evbuffer_get_length(in) == 0,
		   "%zu bytes: sealed into %zu wire bytes, opened whole in 1000-byte pieces", sizes[k], wl);
		evbuffer_free(wire);
		evbuffer_free(sent);
		evbuffer_free(got);
		evbuffer_free(in);
	}
	ok(d.tx.counter == a.rx.counter && d.tx.counter > 8, "both counters moved together (%llu records)",
	   (unsigned long long)d.tx.counter);
}

/* Two records from a fresh pair into w1 and w2. */
static void two_records(struct link_crypto *d, struct link_crypto *a, struct evbuffer *w1, struct evbuffer *w2)
{
	struct evbuffer *sent = evbuffer_new();
	pair(d, a);
	seal_n(&d->tx, w1, 100, 1, sent);
	seal_n(&d->tx, w2, 100, 2, sent);
	evbuffer_free(sent);
}

static void test_refusals(void)
{
	struct link_crypto d, a;
	struct evbuffer *w1 = evbuffer_new(), *w2 = evbuffer_new(), *got = evbuffer_new();
	char why[256];
	uint8_t *p;

	two_records(&d, &a, w1, w2);
	p = evbuffer_pullup(w1, -1);
	p[20] ^= 0x40;
	is_int(link_crypto_open(&a.rx, w1, got, why, sizeof(why)), -EBADMSG, "a flipped ciphertext bit is refused");
	like(why, "does not verify", "and the reason says so");
	ok(evbuffer_get_length(got) == 0, "nothing of it is delivered");

	evbuffer_drain(w1, evbuffer_get_length(w1));
	evbuffer_drain(w2, evbuffer_get_length(w2));
	two_records(&d, &a, w1, w2);
	p = evbuffer_pullup(w1, -1);
	p[evbuffer_get_length(w1) - 1] ^= 1;
	is_int(link_crypto_open(&a.rx, w1, got, why, sizeof(why)), -EBADMSG, "a flipped tag bit is refused");

	evbuffer_drain(w1, evbuffer_get_length(w1));
	evbuffer_drain(w2, evbuffer_get_length(w2));
	two_records(&d, &a, w1, w2);
	is_int(link_crypto_open(&a.rx, w2, got, why, sizeof(why)), -EBADMSG, "the second record first is refused");

	evbuffer_drain(w1, evbuffer_get_length(w1));
	evbuffer_drain(w2, evbuffer_get_length(w2));
	two_records(&d, &a, w1, w2);
	{
		struct evbuffer *copy = evbuffer_new();
		evbuffer_add(copy, evbuffer_pullup(w1, -1), evbuffer_get_length(w1));
		is_int(link_crypto_open(&a.rx, w1, got, why, sizeof(why)), 0, "the first record opens");
		is_int(link_crypto_open(&a.rx, copy, got, why, sizeof(why)), -EBADMSG, "the same record again is refused");
		evbuffer_free(copy);
	}

	evbuffer_drain(w1, evbuffer_get_length(w1));
	evbuffer_drain(w2, evbuffer_get_length(w2));
	two_records(&d, &a, w1, w2);
	is_int(link_crypto_open(&d.rx, w1, got, why, sizeof(why)), -EBADMSG,
	       "a record sent back at its sender is refused (per-direction keys)");

	evbuffer_drain(w1, evbuffer_get_length(w1));
	evbuffer_drain(w2, evbuffer_get_length(w2));
	two_records(&d, &a, w1, w2);
	p = evbuffer_pullup(w1, -1);
	p[0] += 1;   /* the length, which is authenticated too */
	is_int(link_crypto_open(&a.rx, w1, got, why, sizeof(why)), 0, "a lengthened record: waits for its last byte");
	evbuffer_add(w1, "\0", 1);
	is_int(link_crypto_open(&a.rx, w1, got, why, sizeof(why)), -EBADMSG, "then fails: the length is authenticated");

	evbuffer_drain(w1, evbuffer_get_length(w1));
	{
		uint8_t hdr[4] = { 15, 0, 0, 0 };
		evbuffer_add(w1, hdr, 4);
		is_int(link_crypto_open(&a.rx, w1, got, why, sizeof(why)), -EPROTO, "a record shorter than its tag is refused");
		evbuffer_drain(w1, evbuffer_get_length(w1));
		uint32_t big = LINK_RECORD_MAX + LINK_RECORD_TAG + 1;
		hdr[0] = (uint8_t)big;
		hdr[1] = (uint8_t)(big >> 8);
		hdr[2] = (uint8_t)(big >> 16);
		hdr[3] = 0;
		evbuffer_add(w1, hdr, 4);
		is_int(link_crypto_open(&a.rx, w1, got, why, sizeof(why)), -EPROTO,
		       "a record over the limit is refused from its header alone");
		like(why, "sealed record of", "naming its length");
	}
	evbuffer_free(w1);
	evbuffer_free(w2);
	evbuffer_free(got);
}

int main(void)
{
	plan(56);
	if (sodium_init() < 0)
		return 1;
	memset(dn, 0x11, sizeof(dn));
	memset(an, 0x22, sizeof(an));
	link_transcript((const uint8_t *)"hello-d", 7, (const uint8_t *)"hello-a", 7, th);
	test_keys_and_transcript();
	test_round_trips();
	test_refusals();
	/* The same records and refusals with AES-256-GCM, where this machine has it. */
	if (!link_crypto_aes_available()) {
		skip(23, "no AES-256-GCM here (libsodium needs AES-NI and PCLMUL)");
	} else {
		struct link_crypto c1, c2;
		aead = LINK_AEAD_AES256GCM;
		test_round_trips();
		test_refusals();
		link_crypto_keys(secret, sizeof(secret) - 1, dn, an, th, true, LINK_AEAD_AES256GCM, &c1);
		link_crypto_keys(secret, sizeof(secret) - 1, dn, an, th, false, LINK_AEAD_CHACHA20POLY1305, &c2);
		{
			struct evbuffer *w = evbuffer_new(), *sent = evbuffer_new(), *got = evbuffer_new();
			char why[256];
			seal_n(&c1.tx, w, 100, 9, sent);
			is_int(link_crypto_open(&c2.rx, w, got, why, sizeof(why)), -EBADMSG,
			       "an AES-256-GCM record does not open as ChaCha20-Poly1305");
			evbuffer_free(w);
			evbuffer_free(sent);
			evbuffer_free(got);
		}
	}
	return done_testing();
}
