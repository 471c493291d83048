/*
 * linkload_soak.c - the seeded randomized soak: --streams concurrent
 * streams (60), each way a random size from 0 to --max-size (8 MiB; with
 * --zero-pct percent exactly 0), written and read in random sizes from 1
 * byte to --max-io (300000; log-uniform, so small writes are as common per
 * decade as big ones).  Per stream, from the seed:
 *   --reset-pct  one side (client or server) resets at a random point of its
 *                sending (SO_LINGER 0 close); the other side must see a
 *                reset, never a clean EOF, and every byte it got is checked;
 *   --wait-pct   one side sends nothing until the other side's EOF (a reply
 *                after a half-close), otherwise both send at once and each
 *                half-closes when it is done;
 *   --slow-pct   each side reads with random pauses (up to 150 ms).
 * The whole soak must end within --timeout seconds.  The seed is printed
 * first: `--seed N` replays the same plan.  One result line, "ok soak: ..."
 * or "FAIL soak: ...", with up to 10 wrong streams on "# " lines before it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "linkload.h"
#include "linkload_cmd.h"

static uint64_t pick_size(uint64_t *rng, const struct ll_opts *o)
{
	if (ll_rand(rng) % 100 < o->zero_pct)
		return 0;
	return ll_rand(rng) % (o->max_size + 1);
}

static bool pct(uint64_t *rng, unsigned p)
{
	return ll_rand(rng) % 100 < p;
}

int ll_cmd_soak(const struct ll_opts *o)
{
	struct ll_run r;
	uint64_t rng = o->seed, total = 0, t0;
	unsigned n = o->streams, resets_c = 0, resets_s = 0, waits = 0, slows = 0, bad = 0;
	int lfd, rc;
	char why[400], first[700] = "";

	if (n == 0)
		ll_die("--streams: at least 1");
	printf("soak: seed %llu (replay with --seed %llu)\n", (unsigned long long)o->seed,
	       (unsigned long long)o->seed);
	lfd = ll_listen(&o->listen);
	ll_run_init(&r, n, lfd, o->seed ^ 0x5eed);
	r.random_io = true;
	r.max_write = r.max_read = o->max_io ? o->max_io : 1;
	for (unsigned i = 0; i < n; i++) {
		struct ll_stream *s = &r.s[i];
		uint64_t up = pick_size(&rng, o), down = pick_size(&rng, o);

		ll_stream_setup(&r, i, up, down);
		total += up + down;
		if (pct(&rng, o->reset_pct)) {
			bool by_client = ll_rand(&rng) & 1;
			struct ll_side *x = by_client ? &s->client : &s->server;
			/* A reset mid-stream: the resetting side still had bytes to send. */
			if (x->tx->size > 0) {
				x->reset_at = ll_rand(&rng) % x->tx->size;
				by_client ? resets_c++ : resets_s++;
			}
		}
		if (pct(&rng, o->wait_pct)) {
			(ll_rand(&rng) & 1 ? &s->client : &s->server)->wait_eof = true;
			waits++;
		}
		for (int k = 0; k < 2; k++)
			if (pct(&rng, o->slow_pct)) {
				(k ? &s->server : &s->client)->slow = true;
				slows++;
			}
	}
	printf("soak: %u streams, %.1f MiB planned in all, %u resets by a client and %u by a server, "
	       "%u replies after EOF, %u slow readers\n",
	       n, (double)total / (1024 * 1024), resets_c, resets_s, waits, slows);
	t0 = ll_now_us();
	for (unsigned i = 0; i < n; i++) {
		int e = ll_stream_connect(&r, i, &o->connect);
		if (e < 0)
			ll_die("connect %s: %s", o->connect.text, strerror(-e));
	}
	rc = ll_run_loop(&r, t0 + (uint64_t)o->timeout * 1000000u, NULL, NULL);
	double secs = (double)(ll_now_us() - t0) / 1e6;
	uint64_t moved = 0;
	unsigned seen = 0;

	for (unsigned i = 0; i < n; i++) {
		struct ll_stream *s = &r.s[i];

		moved += s->up.recvd + s->down.recvd;
		bool hung = rc == -ETIMEDOUT && !(s->client.done && s->server.done);
		if (hung)
			ll_stream_state(s, why, sizeof(why));
		if (hung || ll_stream_verdict(s, why, sizeof(why)) < 0) {
			char line[700];
			snprintf(line, sizeof(line), "stream %u (up %llu, down %llu bytes; reset by %s at %llu; %s%s%s): %s%s",
			         i, (unsigned long long)s->up.size, (unsigned long long)s->down.size,
			         s->client.reset_at != LL_NEVER ? "the client"
			         : s->server.reset_at != LL_NEVER ? "the server" : "nobody",
			         (unsigned long long)(s->client.reset_at != LL_NEVER ? s->client.reset_at
			                              : s->server.reset_at != LL_NEVER ? s->server.reset_at : 0),
			         s->client.wait_eof ? "client replies after EOF"
			         : s->server.wait_eof ? "server replies after EOF" : "both send at once",
			         s->client.slow ? ", slow client" : "", s->server.slow ? ", slow server" : "",
			         hung ? "not finished in time: " : "", why);
			if (bad++ < 10)
				printf("# %s\n", line);
			if (!first[0])
				snprintf(first, sizeof(first), "%s", line);
			continue;
		}
		seen += s->up.aborted || s->down.aborted;
	}
	if (bad) {
		printf("FAIL soak: %u of %u streams wrong (seed %llu), %.1f MiB moved in %.1f s; first: %s\n", bad, n,
		       (unsigned long long)o->seed, (double)moved / (1024 * 1024), secs, first);
	} else {
		printf("ok soak: %u streams, %.1f MiB moved and checked byte by byte, %u resets each seen as a reset "
		       "by the other side, %.1f s (seed %llu)\n",
		       n, (double)moved / (1024 * 1024), seen, secs, (unsigned long long)o->seed);
	}
	ll_run_free(&r);
	close(lfd);
	return bad ? 1 : 0;
}
