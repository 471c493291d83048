/*
 * plugins/iptables/iptables.c - watcher plugin: DNAT rules in the nat table
 * of the broker's network namespace become mappings.
 *
 * Every interval_ms the plugin runs `COMMAND -t nat` (iptables-save) and
 * `COMMAND6 -t nat` (ip6tables-save) one after the other, never blocking the
 * loop (plugins/common/spawn_capture.c): the child is spawned with
 * posix_spawnp in its own process group, its stdout and stderr are read
 * through non-blocking pipes from libevent events, it is reaped with
 * waitpid(WNOHANG) once both reach EOF, and it is killed (SIGKILL to the
 * group) when it runs longer than timeout_ms or prints more than max_output
 * bytes.  A run that fails changes nothing.
 *
 * In the chains named by `chains` (comma-separated fnmatch globs) it takes
 *   -A CHAIN [-d ADDR[/32]] -p tcp|udp [-m tcp] --dport N -j DNAT --to-destination ADDR[:PORT]
 *   -A CHAIN ... --dport N -j REDIRECT --to-ports M        (-> 127.0.0.1:M)
 *   -A CHAIN ... --dport N -j SOME-USER-CHAIN              (a node port: -> 127.0.0.1:N)
 * and ignores, with a debug log, what it cannot parse (ipt_parse.c).
 *
 * Rules are grouped per owner "CHAIN:PROTO:DPORT" (IPv6 rules:
 * "CHAIN:PROTO:DPORT:v6").  An owner is reported once the same set of
 * rules was seen in two consecutive successful runs, and removed after the
 * first successful run that lacks it.
 *
 * Linux only.
 */
#include <config.h>

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/plugin.h"
#include "plugins/common/seen_twice.h"
#include "plugins/common/spawn_capture.h"
#include "ipt.h"

static const struct broker_host *host;

struct ipt_family {
	int v6;
	char *command;                  /* NULL: not run */
	struct ipt_owner *owners;       /* sorted by id */
	size_t nowners;
	char last_error[160];           /* to log a repeating failure once */
};

struct ipt_state {
	struct broker_plugin_handle *h;
	struct broker_timer *timer;
	long interval_ms, timeout_ms;
	size_t max_output;
	char *chains;                   /* comma-separated globs (owned copy) */
	struct ipt_family fam[2];
	int started;
	struct spawn_capture *run;      /* the dump being run, NULL when none */
	int run_fam;                    /* its family */
	struct seen_twice seen;         /* complete rounds (both families tried) */
};

static void run_next(struct ipt_state *st, int fam);
static void run_done(void *arg, const struct spawn_result *res);

/* ------------------------------------------------------------- reporting */

static void report_set(struct ipt_state *st, struct ipt_owner *o)
{
	struct broker_mapping m[IPT_ITEMS_MAX];
	const char *conn[IPT_ITEMS_MAX];
	char desc[IPT_ID_MAX + IPT_CONNECT_MAX + 64];
	size_t i;
	int r;

	for (i = 0; i < o->nrep; i++) {
		conn[i] = o->rep[i].connect;
		m[i].proto = (enum broker_proto)o->proto;
		m[i].host_ip = o->rep[i].host_ip;
		m[i].host_port = o->dport;
		m[i].nconnect = 1;
		m[i].connect = &conn[i];
	}
	snprintf(desc, sizeof(desc), "iptables nat rule %s -> %s%s", o->id,
	         o->nrep ? o->rep[0].connect : "?", o->nrep > 1 ? " ..." : "");
	r = host->mapping_set(st->h, o->id, desc, m, o->nrep);
	if (r < 0)
		host->log(st->h, BROKER_LOG_WARN, "%s: mapping refused: %s", o->id, strerror(-r));
	else
		host->log(st->h, BROKER_LOG_DEBUG, "%s: reported (%s)", o->id, desc);
}

static int items_equal(const struct ipt_item *a, size_t na, const struct ipt_item *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (ipt_item_cmp(&a[i], &b[i]) != 0)
			return 0;
	return 1;
}

/* seen_twice callbacks: an owner's count restarts when its rules change. */
static int owner_same(const void *cur, const void *old)
{
	const struct ipt_owner *o = cur, *p = old;

	return items_equal(o->items, o->nitems, p->items, p->nitems);
}

static void owner_carry(void *cur, const void *old)
{
	struct ipt_owner *o = cur;
	const struct ipt_owner *p = old;

	o->nrep = p->nrep;
	memcpy(o->rep, p->rep, sizeof(o->rep));
}

static int owner_changed(const void *e)
{
	const struct ipt_owner *o = e;

	return !items_equal(o->items, o->nitems, o->rep, o->nrep);
}

static void owner_confirm(void *ctx, void *e)
{
	struct ipt_owner *o = e;

	(void)ctx;
	o->nrep = o->nitems;
	memcpy(o->rep, o->items, sizeof(o->rep));
}

static void owner_report(void *ctx, void *e)
{
	report_set(ctx, e);
}

static void owner_gone(void *ctx, const void *old)
{
	struct ipt_state *st = ctx;
	const struct ipt_owner *o = old;

	host->mapping_remove(st->h, o->id);
	host->log(st->h, BROKER_LOG_DEBUG, "%s: gone", o->id);
}

static const struct seen_twice_ops owner_ops = {
	.size = sizeof(struct ipt_owner),
	.mark = offsetof(struct ipt_owner, mark),
	.cmp = ipt_owner_cmp,
	.same = owner_same,
	.carry = owner_carry,
	.changed = owner_changed,
	.confirm = owner_confirm,
	.report = owner_report,
	.gone = owner_gone,
};

static int report_all(struct ipt_state *st)
{
	size_t f;
	int r = host->resync_begin(st->h);

	if (r < 0)
		return r;
	for (f = 0; f < 2; f++)
		seen_twice_report_all(&owner_ops, st, st->fam[f].owners, st->fam[f].nowners);
	return host->resync_commit(st->h);
}

/* A successful run of family f found nt (sorted): merge and report changes. */
static void apply(struct ipt_state *st, struct ipt_family *f, struct ipt_owner *nt, size_t n)
{
	seen_twice_merge(&owner_ops, st, st->seen.synced, f->owners, f->nowners, nt, n);
	free(f->owners);
	f->owners = nt;
	f->nowners = n;
}

/* ------------------------------------------------------------- running the command */

/* ipt_log_fn: the parser's notes go to the plugin's log. */
static void parse_log(void *arg, enum broker_log_level level, const char *fmt, ...)
{
	struct ipt_state *st = arg;
	va_list ap;

	va_start(ap, fmt);
	host->vlog(st->h, level, fmt, ap);
	va_end(ap);
}

/* Log a failure of family f: the first time as a warning, repeats at debug. */
static void fam_failed(struct ipt_state *st, struct ipt_family *f, const char *what)
{
	int repeat = strcmp(f->last_error, what) == 0;

	host->log(st->h, repeat ? BROKER_LOG_DEBUG : BROKER_LOG_WARN, "%s -t nat: %s%s",
	          f->command, what, repeat ? "" : " (nothing changed; retrying every interval)");
	snprintf(f->last_error, sizeof(f->last_error), "%s", what);
}

static void run_opts(struct ipt_state *st, int fam, struct spawn_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->name = st->fam[fam].command;
	o->timeout_ms = st->timeout_ms;
	o->max_output = st->max_output;
	o->done = run_done;
	o->arg = st;
}

/* The child of family st->run_fam is reaped and its pipes are closed: judge and apply the run. */
static void run_done(void *arg, const struct spawn_result *res)
{
	struct ipt_state *st = arg;
	int fam = st->run_fam;
	struct ipt_family *f = &st->fam[fam];
	struct spawn_opts o;
	char what[160];

	st->run = NULL;     /* spawn_capture frees it when this returns */
	run_opts(st, fam, &o);
	if (spawn_capture_failed(res, &o, what, sizeof(what))) {
		fam_failed(st, f, what);
	} else {
		struct ipt_owner *owners;
		size_t n;

		struct ipt_parse_ctx ctx = { st->chains, f->command, parse_log, st };

		if (ipt_parse_save(&ctx, f->v6, res->out, res->outlen, &owners, &n) == 0) {
			if (f->last_error[0])
				host->log(st->h, BROKER_LOG_INFO, "%s -t nat works again", f->command);
			f->last_error[0] = '\0';
			apply(st, f, owners, n);
		} else {
			snprintf(f->last_error, sizeof(f->last_error), "bad output");
		}
	}
	run_next(st, fam + 1);
}

/* Split a command into words on blanks (no quoting); argv gets "-t" "nat" appended. */
static char **make_argv(const char *command)
{
	size_t n = 0, len = strlen(command);
	char **argv = calloc(len / 2 + 4, sizeof(*argv));
	char *copy = strdup(command), *save = NULL, *w;

	if (!argv || !copy) {
		free(argv);
		free(copy);
		return NULL;
	}
	for (w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		argv[n++] = w;
	if (n == 0) {
		free(argv);
		free(copy);
		return NULL;
	}
	argv[n++] = (char *)"-t";
	argv[n++] = (char *)"nat";
	argv[n] = NULL;
	return argv;
}

/* Start the command of family fam.  0, or -errno (logged). */
static int run_start(struct ipt_state *st, int fam)
{
	struct ipt_family *f = &st->fam[fam];
	char **argv = make_argv(f->command);
	struct spawn_opts o;
	char what[300];
	int r;

	if (!argv)
		return -ENOMEM;
	run_opts(st, fam, &o);
	st->run_fam = fam;
	r = spawn_capture_start(host, st->h, argv, &o, &st->run, what, sizeof(what));
	free(argv[0]);
	free(argv);
	if (r < 0) {
		st->run = NULL;
		fam_failed(st, f, what);
		return r;
	}
	host->log(st->h, BROKER_LOG_TRACE, "%s[%d] -t nat started", f->command,
	          (int)spawn_capture_pid(st->run));
	return 0;
}

/* Run the families from fam on; after the last one, the round is complete. */
static void run_next(struct ipt_state *st, int fam)
{
	int first;

	for (; fam < 2; fam++) {
		if (!st->fam[fam].command)
			continue;
		if (run_start(st, fam) == 0)
			return;  /* run_done continues */
	}
	first = seen_twice_scan_done(&st->seen);
	host->log(st->h, BROKER_LOG_TRACE, "round %d done", st->seen.scans);
	if (first && report_all(st) < 0)
		host->log(st->h, BROKER_LOG_WARN, "cannot report the first snapshot");
}

static void on_timer(void *arg)
{
	struct ipt_state *st = arg;

	host->timer_arm(st->timer, st->interval_ms);
	if (st->run) {
		host->log(st->h, BROKER_LOG_DEBUG, "previous run still going; skipping this interval");
		return;
	}
	run_next(st, 0);
}

/* ------------------------------------------------------------- lifecycle */

static void ipt_free(struct ipt_state *st)
{
	int i;

	for (i = 0; i < 2; i++) {
		free(st->fam[i].command);
		free(st->fam[i].owners);
	}
	free(st->chains);
	free(st);
}

static int ipt_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	struct ipt_state *st = calloc(1, sizeof(*st));
	const char *c4, *c6, *ch;
	long long v;

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->h = h;
	st->fam[1].v6 = 1;
	v = host->option_int(h, "interval_ms");
	if (v < 500 || v > 3600000) {
		snprintf(err, errlen, "interval_ms=%lld: must be 500..3600000", v);
		goto bad;
	}
	st->interval_ms = (long)v;
	v = host->option_int(h, "timeout_ms");
	if (v < 100 || v > 600000) {
		snprintf(err, errlen, "timeout_ms=%lld: must be 100..600000", v);
		goto bad;
	}
	st->timeout_ms = (long)v;
	v = host->option_int(h, "max_output");
	if (v < 4096 || v > (1LL << 30)) {
		snprintf(err, errlen, "max_output=%lld: must be 4096..1073741824 bytes", v);
		goto bad;
	}
	st->max_output = (size_t)v;
	c4 = host->option_string(h, "command");
	c6 = host->option_string(h, "command6");
	ch = host->option_string(h, "chains");
	if (!ch || !*ch) {
		snprintf(err, errlen, "chains: empty (write globs such as KUBE-NODEPORTS,CNI-DN-*)");
		goto bad;
	}
	if ((c4 && strspn(c4, " \t") != strlen(c4) && !(st->fam[0].command = strdup(c4))) ||
	    (c6 && strspn(c6, " \t") != strlen(c6) && !(st->fam[1].command = strdup(c6))) ||
	    !(st->chains = strdup(ch))) {
		snprintf(err, errlen, "out of memory");
		ipt_free(st);
		return -ENOMEM;
	}
	if (!st->fam[0].command && !st->fam[1].command) {
		snprintf(err, errlen, "command and command6 are both empty: nothing to run");
		goto bad;
	}
	*state = st;
	return 0;
bad:
	ipt_free(st);
	return -EINVAL;
}

static int ipt_start(void *state, char *err, size_t errlen)
{
	struct ipt_state *st = state;

	if (st->started)
		return 0;
	st->timer = host->timer_new(st->h, on_timer, st);
	if (!st->timer) {
		snprintf(err, errlen, "cannot create a timer (out of memory?)");
		return -ENOMEM;
	}
	st->started = 1;
	host->log(st->h, BROKER_LOG_INFO, "watching nat chains %s every %ld ms (%s%s%s)", st->chains,
	          st->interval_ms, st->fam[0].command ? st->fam[0].command : "",
	          st->fam[0].command && st->fam[1].command ? ", " : "",
	          st->fam[1].command ? st->fam[1].command : "");
	on_timer(st);
	return 0;
}

static void ipt_stop(void *state)
{
	struct ipt_state *st = state;
	int i;

	if (!st || !st->started)
		return;
	/* The core frees host timers itself when a plugin stops (before or after
	 * this call): only forget it here, never touch it. */
	st->timer = NULL;
	/* The loop is stopping: kill and reap now (SIGKILL cannot be ignored). */
	spawn_capture_abort(st->run);
	st->run = NULL;
	for (i = 0; i < 2; i++) {
		free(st->fam[i].owners);
		st->fam[i].owners = NULL;
		st->fam[i].nowners = 0;
		st->fam[i].last_error[0] = '\0';
	}
	memset(&st->seen, 0, sizeof(st->seen));
	st->started = 0;
}

static void ipt_fini(void *state)
{
	if (!state)
		return;
	ipt_stop(state);
	ipt_free(state);
}

static int ipt_resync(void *state)
{
	struct ipt_state *st = state;

	if (!st->seen.synced)
		return 0;  /* the first snapshot comes after two runs */
	return report_all(st);
}

static const struct broker_option ipt_options[] = {
	{ BROKER_OPT_INT, "interval_ms", "3000", "run iptables-save every this many milliseconds",
	  500, 3600000 },
	{ BROKER_OPT_STRING, "chains", "KUBE-NODEPORTS,CNI-DN-*,DOCKER",
	  "nat chains to read, comma-separated globs", 0, 0 },
	{ BROKER_OPT_STRING, "command", "iptables-save",
	  "IPv4 dump command (words split on blanks, \"-t nat\" appended; empty: skip IPv4)", 0, 0 },
	{ BROKER_OPT_STRING, "command6", "ip6tables-save",
	  "IPv6 dump command (empty: skip IPv6)", 0, 0 },
	{ BROKER_OPT_INT, "timeout_ms", "5000", "kill a dump that runs longer", 100, 600000 },
	{ BROKER_OPT_INT, "max_output", "33554432", "kill a dump that prints more bytes", 4096,
	  1073741824 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

static const struct broker_plugin ipt_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "iptables",
	.version = PACKAGE_VERSION,
	.description = "watch DNAT rules in the nat table (iptables-save, polled)",
	.kinds = BROKER_KIND_WATCHER,
	.options = ipt_options,
	.init = ipt_init,
	.start = ipt_start,
	.stop = ipt_stop,
	.fini = ipt_fini,
	.resync = ipt_resync,
};

BROKER_PLUGIN_DEFINE(ipt_plugin, host)
