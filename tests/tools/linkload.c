/*
 * linkload - many concurrent streams through a broker route, with both ends
 * in this process, for the link tests and benchmarks.  It listens on the
 * route's target, connects its clients to the route's listen side, and
 * checks every byte each way against a generator keyed per flow.
 *
 *   linkload streams --connect ADDR --listen ADDR [options]
 *       For each count in --counts and each direction in --dirs: that many
 *       concurrent streams, each moving max(--min-size, --bytes / count)
 *       bytes up (client to server), down, or both at once.  One line per
 *       run, "ok ..." or "FAIL ..." (details of a failure on "# " lines
 *       before it); after a failed run the rest are not made unless
 *       --keep-going.  A run fails when a byte differs, a
 *       stream ends short or is reset, or a receiver waited longer than
 *       --gap-ms for data while its sender still had some to deliver.
 *       With --secs T the streams send for T seconds instead (benchmark)
 *       and the line gives the aggregate rate and Jain's fairness index of
 *       the per-stream rates over the window from --warm to T.
 *   linkload soak --connect ADDR --listen ADDR [options]   (linkload_soak.c)
 *       Seeded randomized streams: random sizes, write and read sizes,
 *       resets from either side, replies after EOF, slow readers.
 *   linkload ping --connect ADDR --listen ADDR [options]   (linkload_ping.c)
 *       1-byte ping-pong, alone or beside --bulk N streams through a second
 *       route (--bulk-connect, --bulk-listen): p50, p99 and max round trip.
 *
 * ADDR: unix:PATH or tcp:HOST:PORT (numeric host).
 * Options:
 *   --counts LIST     streams: comma-separated stream counts (default 8)
 *   --dirs LIST       streams, ping bulk: up, down, both (default both)
 *   --bytes SIZE      streams: bytes per direction per run, over all streams (32M)
 *   --min-size SIZE   streams: at least this much per stream (1M)
 *   --gap-ms MS       streams: longest allowed wait for data (250; 0: not checked),
 *                     not counting the time the watched processes waited for a CPU
 *   --watch-pid PID   streams, ping bulk: a process on the path (a broker) whose
 *                     run-queue delay (/proc/PID/schedstat) is not held against
 *                     the path; this process is always watched (repeatable)
 *   --stall-abort-ms MS  streams: end a run as failed once a receiver waited this
 *                     long (3000; 0: only the --timeout)
 *   --keep-going      streams: go on with the other runs after a failed one
 *   --secs S          streams: timed run (benchmark); ping: at most S seconds
 *   --warm S          streams --secs: the window starts after S seconds (1)
 *   --no-verify       streams --secs: send a fixed pattern, check nothing
 *   --label TEXT      prefix of each result line
 *   --timeout S       a limit per run (streams) or in all (soak, ping) (120)
 *   --seed N          pseudo-random seed (default 1)
 *   --count N         ping: round trips (default 2000)
 *   --max-ms MS       ping: fail when a round trip takes longer (0: report only)
 *   --bulk N          ping: bulk streams beside the ping-pong (default 0)
 *   --streams N, --max-size SIZE, --max-io SIZE, --reset-pct P,
 *   --wait-pct P, --slow-pct P, --zero-pct P        soak (see linkload_soak.c)
 * Exit status: 0 all runs passed, 1 a run failed, 2 usage.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "linkload.h"
#include "linkload_cmd.h"

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	fputs("usage: linkload streams|soak|ping --connect ADDR --listen ADDR [options]\n"
	      "       (see the comment at the top of tests/tools/linkload.c)\n", stderr);
	exit(2);
}

/* ------------------------------------------------------------ streams */

struct timed {
	uint64_t t0, open_at, end_at, t_open, t_close;
	bool opened;
};

/* Timed runs: open the measurement window after --warm, close it and stop at --secs. */
static bool timed_tick(struct ll_run *r, void *arg)
{
	struct timed *t = arg;
	uint64_t now = ll_now_us();

	if (!t->opened && now >= t->open_at) {
		t->opened = true;
		t->t_open = now;
		for (unsigned i = 0; i < r->n; i++) {
			r->s[i].up.win_start = r->s[i].up.recvd;
			r->s[i].down.win_start = r->s[i].down.recvd;
		}
	}
	if (!r->stop && now >= t->end_at) {
		t->t_close = now;
		for (unsigned i = 0; i < r->n; i++) {
			r->s[i].up.win_bytes = r->s[i].up.recvd - r->s[i].up.win_start;
			r->s[i].down.win_bytes = r->s[i].down.recvd - r->s[i].down.win_start;
		}
		ll_run_stop(r);
	}
	return true;
}

static const char *mib(uint64_t b, char *buf, size_t len)
{
	if (b >= 1024 * 1024)
		snprintf(buf, len, "%.1f MiB", (double)b / (1024 * 1024));
	else
		snprintf(buf, len, "%.0f KiB", (double)b / 1024);
	return buf;
}

/* Jain's fairness index of xs: 1 when all are equal, 1/n when one has everything. */
static double jain(const double *xs, unsigned n)
{
	double s = 0, s2 = 0;

	for (unsigned i = 0; i < n; i++) {
		s += xs[i];
		s2 += xs[i] * xs[i];
	}
	return s2 > 0 ? s * s / ((double)n * s2) : 0;
}

/* A run's failures: each is printed as a comment, the first also goes on its result line. */
struct verdict {
	int bad;
	char first[600];
};

static void reason(struct verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reason(struct verdict *v, const char *fmt, ...)
{
	char line[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("# %s\n", line);
	if (!v->bad++)
		snprintf(v->first, sizeof(v->first), "%s", line);
}

/* One run: n streams in direction dir; one result line.  Returns 0 when it passed. */
static int streams_run(const struct ll_opts *o, int lfd, unsigned n, const char *dir)
{
	bool up = strcmp(dir, "down") != 0, down = strcmp(dir, "up") != 0;
	uint64_t size = o->bytes / n > o->min_size ? o->bytes / n : o->min_size;
	struct ll_run r;
	struct timed t = { 0 };
	char why[400], a[32], b[32];
	struct verdict v = { 0 };
	int rc;

	if (o->secs > 0)
		size = LL_ENDLESS;
	ll_run_init(&r, n, lfd, o->seed + n * 7919u + (unsigned)dir[0]);
	r.verify = o->verify;
	r.stall_abort_us = o->secs > 0 ? 0 : (uint64_t)o->stall_abort_ms * 1000;
	for (unsigned i = 0; i < o->nwatch; i++)
		ll_run_watch(&r, o->watch[i]);
	for (unsigned i = 0; i < n; i++)
		ll_stream_setup(&r, i, up ? size : 0, down ? size : 0);
	t.t0 = ll_now_us();
	for (unsigned i = 0; i < n; i++) {
		int e = ll_stream_connect(&r, i, &o->connect);
		if (e < 0)
			ll_die("%s: connect %s: %s", o->label, o->connect.text, strerror(-e));
	}
	t.open_at = t.t0 + (uint64_t)(o->warm * 1e6);
	t.end_at = t.t0 + (uint64_t)(o->secs * 1e6);
	rc = ll_run_loop(&r, t.t0 + (uint64_t)o->timeout * 1000000u + (uint64_t)(o->secs * 1e6),
	                 o->secs > 0 ? timed_tick : NULL, &t);
	double secs = (double)(ll_now_us() - t.t0) / 1e6;

	/* Verdicts: every stream whole and checked. */
	for (unsigned i = 0; i < n; i++) {
		if (rc == -ETIMEDOUT && !(r.s[i].client.done && r.s[i].server.done)) {
			ll_stream_state(&r.s[i], why, sizeof(why));
			reason(&v, "not finished within %u s: %s", o->timeout, why);
			continue;
		}
		if (ll_stream_verdict(&r.s[i], why, sizeof(why)) < 0)
			reason(&v, "stream %u %s", i, why);
	}
	/* The longest wait for data of any flow that had data to move. */
	uint64_t worst = 0, worst_wall = 0, worst_at = 0, worst_size = 0;
	unsigned worst_i = 0;
	const char *worst_dir = "";
	uint64_t total = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct ll_flow *fl[2] = { &r.s[i].up, &r.s[i].down };
		for (int k = 0; k < 2; k++) {
			total += fl[k]->recvd;
			if (fl[k]->max_gap > worst) {
				worst = fl[k]->max_gap;
				worst_wall = fl[k]->max_gap_wall;
				worst_at = fl[k]->gap_at;
				worst_size = fl[k]->size;
				worst_i = i;
				worst_dir = k ? "down" : "up";
			}
		}
	}
	if (o->gap_ms && worst > (uint64_t)o->gap_ms * 1000) {
		reason(&v, "stream %u %s waited %.0f ms for data at %s of %s%s (limit %u ms; %.0f ms on the clock, the "
		       "rest the brokers or this tool waited for a CPU; this tool's longest busy stretch %.0f ms)",
		       worst_i, worst_dir, (double)worst / 1000, mib(worst_at, a, sizeof(a)), mib(worst_size, b, sizeof(b)),
		       r.stalled ? " and was still waiting" : "", o->gap_ms, (double)worst_wall / 1000,
		       (double)r.loop_max_us / 1000);
	}
	if (o->secs > 0) {
		double *xs = calloc(2 * (size_t)n, sizeof(*xs));
		double win = (double)(t.t_close - t.t_open) / 1e6, sum = 0, lo = -1, hi = 0;
		unsigned k = 0;

		if (!xs)
			ll_die("out of memory");
		for (unsigned i = 0; i < n; i++) {
			if (up)
				xs[k++] = (double)r.s[i].up.win_bytes / 1e6 / win;
			if (down)
				xs[k++] = (double)r.s[i].down.win_bytes / 1e6 / win;
		}
		for (unsigned i = 0; i < k; i++) {
			sum += xs[i];
			lo = lo < 0 || xs[i] < lo ? xs[i] : lo;
			hi = xs[i] > hi ? xs[i] : hi;
		}
		printf("%s %s streams=%u dir=%s mbps=%.1f jain=%.3f min_mbps=%.2f max_mbps=%.2f longest_wait_ms=%.0f\n",
		       v.bad ? "FAIL" : "ok", o->label, n, dir, sum, jain(xs, k), lo, hi, (double)worst / 1000);
		free(xs);
	} else if (v.bad) {
		printf("FAIL %s %ux %s: %s%s\n", o->label, n, dir, v.first,
		       v.bad > 1 ? " (and more: see the comments above)" : "");
	} else {
		printf("ok %s %ux %s: %s per stream each way it ran, every byte checked, longest wait %.0f ms "
		       "(%.0f on the clock; stream %u %s at %s), %.2f s, %.0f MB/s\n",
		       o->label, n, dir, mib(size, a, sizeof(a)), (double)worst / 1000, (double)worst_wall / 1000,
		       worst_i, worst_dir, mib(worst_at, b, sizeof(b)), secs, (double)total / 1e6 / secs);
	}
	ll_run_free(&r);
	return v.bad ? 1 : 0;
}

static int cmd_streams(const struct ll_opts *o)
{
	int lfd = ll_listen(&o->listen), bad = 0;
	char counts[256], dirs[256], *save1, *save2;

	snprintf(counts, sizeof(counts), "%s", o->counts);
	for (char *c = strtok_r(counts, ",", &save1); c; c = strtok_r(NULL, ",", &save1)) {
		unsigned n = (unsigned)ll_parse_size(c, "--counts");
		if (n == 0)
			ll_die("--counts: a count must be at least 1");
		snprintf(dirs, sizeof(dirs), "%s", o->dirs);
		for (char *d = strtok_r(dirs, ",", &save2); d; d = strtok_r(NULL, ",", &save2)) {
			if (strcmp(d, "up") && strcmp(d, "down") && strcmp(d, "both"))
				ll_die("--dirs: '%s': want up, down or both", d);
			bad |= streams_run(o, lfd, n, d);
			if (bad && !o->keep_going) {
				printf("# %s: the runs after the first failure were not made (--keep-going makes them)\n",
				       o->label);
				goto out;
			}
		}
	}
out:
	close(lfd);
	return bad;
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	struct ll_opts o = {
		.counts = "8", .dirs = "both", .bytes = 32u << 20, .min_size = 1u << 20, .gap_ms = 250,
		.stall_abort_ms = 3000,
		.warm = 1, .verify = true, .label = "", .timeout = 120, .seed = 1, .count = 2000,
		.streams = 60, .max_size = 8u << 20, .max_io = 300000, .reset_pct = 15, .wait_pct = 15,
		.slow_pct = 10, .zero_pct = 10,
	};
	const char *connect = NULL, *listen = NULL, *bulk_connect = NULL, *bulk_listen = NULL;

	if (argc < 2)
		usage();
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define VAL() (v ? (i++, v) : (usage(), ""))
#define NUM() ll_parse_size(VAL(), a)
		if (!strcmp(a, "--connect"))
			connect = VAL();
		else if (!strcmp(a, "--listen"))
			listen = VAL();
		else if (!strcmp(a, "--bulk-connect"))
			bulk_connect = VAL();
		else if (!strcmp(a, "--bulk-listen"))
			bulk_listen = VAL();
		else if (!strcmp(a, "--counts"))
			o.counts = VAL();
		else if (!strcmp(a, "--dirs"))
			o.dirs = VAL();
		else if (!strcmp(a, "--bytes"))
			o.bytes = NUM();
		else if (!strcmp(a, "--min-size"))
			o.min_size = NUM();
		else if (!strcmp(a, "--gap-ms"))
			o.gap_ms = (unsigned)NUM();
		else if (!strcmp(a, "--stall-abort-ms"))
			o.stall_abort_ms = (unsigned)NUM();
		else if (!strcmp(a, "--keep-going"))
			o.keep_going = true;
		else if (!strcmp(a, "--watch-pid")) {
			if (o.nwatch == sizeof(o.watch) / sizeof(o.watch[0]))
				ll_die("--watch-pid: at most %zu", sizeof(o.watch) / sizeof(o.watch[0]));
			o.watch[o.nwatch++] = (int)NUM();
		}
		else if (!strcmp(a, "--secs"))
			o.secs = atof(VAL());
		else if (!strcmp(a, "--warm"))
			o.warm = atof(VAL());
		else if (!strcmp(a, "--no-verify"))
			o.verify = false;
		else if (!strcmp(a, "--label"))
			o.label = VAL();
		else if (!strcmp(a, "--timeout"))
			o.timeout = (unsigned)NUM();
		else if (!strcmp(a, "--seed"))
			o.seed = NUM();
		else if (!strcmp(a, "--count"))
			o.count = (long)NUM();
		else if (!strcmp(a, "--max-ms"))
			o.max_ms = (unsigned)NUM();
		else if (!strcmp(a, "--bulk"))
			o.bulk = (unsigned)NUM();
		else if (!strcmp(a, "--streams"))
			o.streams = (unsigned)NUM();
		else if (!strcmp(a, "--max-size"))
			o.max_size = NUM();
		else if (!strcmp(a, "--max-io"))
			o.max_io = NUM();
		else if (!strcmp(a, "--reset-pct"))
			o.reset_pct = (unsigned)NUM();
		else if (!strcmp(a, "--wait-pct"))
			o.wait_pct = (unsigned)NUM();
		else if (!strcmp(a, "--slow-pct"))
			o.slow_pct = (unsigned)NUM();
		else if (!strcmp(a, "--zero-pct"))
			o.zero_pct = (unsigned)NUM();
		else
			usage();
#undef NUM
#undef VAL
	}
	if (!connect || !listen)
		usage();
	ll_parse_addr(connect, &o.connect);
	ll_parse_addr(listen, &o.listen);
	if (bulk_connect)
		ll_parse_addr(bulk_connect, &o.bulk_connect);
	if (bulk_listen)
		ll_parse_addr(bulk_listen, &o.bulk_listen);
	if (o.bulk && (!bulk_connect || !bulk_listen))
		ll_die("--bulk needs --bulk-connect and --bulk-listen (a second route)");
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "streams"))
		return cmd_streams(&o);
	if (!strcmp(argv[1], "soak"))
		return ll_cmd_soak(&o);
	if (!strcmp(argv[1], "ping"))
		return ll_cmd_ping(&o);
	usage();
}
