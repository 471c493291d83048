/*
 * tests/unit/test_plugin_common.c - the shared plugin blocks of
 * plugins/common/, compiled in and driven through the fake host
 * (fake_host.h) without any plugin around them; prints TAP.
 *
 *   sock_listen.c    accept hand-off, describe, backlog, the EMFILE pause
 *   spawn_capture.c  output and stderr captured, exit status, timeout and
 *                    output limits (the whole process group killed), abort
 *   seen_twice.c     reported after two scans, gone after one, a content
 *                    change restarts the count, the first snapshot once
 *   ctab.c           the container table: add/find/cap, reports, gone once,
 *                    the resync of all
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <event2/event.h>

#include "plugins/common/ctab.h"
#include "plugins/common/seen_twice.h"
#include "plugins/common/sock_listen.h"
#include "plugins/common/spawn_capture.h"
#include "tests/unit/fake_host.h"
#include "tests/unit/tap.h"

static const struct broker_option test_options[] = {
	{ BROKER_OPT_INT, "backlog", "0", "listen backlog", 0, 65535 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

static const struct broker_plugin test_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "common",
	.options = test_options,
};

#define HANDLE(P) ((struct broker_plugin_handle *)(void *)(P))

/* ------------------------------------------------------------- sock_listen */

/* A listening TCP socket on 127.0.0.1 (non-blocking); its port in *port. */
static int tcp_listener(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t l = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &l) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static int tcp_dial(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int peer_calls;

static void test_peer(evutil_socket_t fd, const struct sockaddr *sa, int salen, char *buf, size_t len)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

	(void)fd;
	peer_calls++;
	snprintf(buf, len, "test:%s/%d", salen >= (int)sizeof(*sin) && sin->sin_family == AF_INET ?
	         "inet" : "?", salen);
}

static void test_error_text(int e, char *buf, size_t len)
{
	snprintf(buf, len, "custom text for error %d", e);
}

static void test_accept(struct fh_plugin *P, struct event_base *base)
{
	struct broker_accept_sink sink = { 0 };
	struct sock_listen_opts o;
	struct sock_listener *sl = NULL;
	char err[256] = "", desc[64], small[8];
	int fd, port = 0, c1, c2, r;

	fd = tcp_listener(&port);
	memset(&o, 0, sizeof(o));
	o.scheme = "test";
	o.where = "127.0.0.1:1234";
	o.peer = test_peer;
	r = sock_listen_start(fh_host(), HANDLE(P), &sink, fd, &o, &sl, err, sizeof(err));
	ok(fd >= 0 && r == 0 && sl, "sock_listen_start registers a bound socket (%s)", err);
	if (r < 0)
		return;
	ok(sock_listen_describe(sl, desc, sizeof(desc)) == 0 && strcmp(desc, "test://127.0.0.1:1234") == 0,
	   "describe: \"%s\"", desc);
	ok(sock_listen_describe(sl, small, sizeof(small)) == -ENOSPC, "describe into 8 bytes: -ENOSPC");
	ok(strcmp(sock_listen_where(sl), "127.0.0.1:1234") == 0, "where: \"%s\"", sock_listen_where(sl));

	c1 = tcp_dial(port);
	c2 = tcp_dial(port);
	fh_wait_int(base, &sink.n, 2, 2000);
	ok(sink.n == 2 && peer_calls == 2, "two connections handed to the sink (%d, peer text asked %d times)",
	   sink.n, peer_calls);
	ok(strcmp(sink.peer[0], "test:inet/16") == 0, "the stream's peer text is the plugin's: \"%s\"",
	   sink.peer[0]);
	ok(sink.flags == BROKER_STREAM_SOCKET && sink.fds[0] >= 0 && sink.fds[0] != sink.fds[1],
	   "each is a socket stream with its own descriptor");
	if (c1 >= 0)
		close(c1);
	if (c2 >= 0)
		close(c2);
	fh_sink_close(&sink);
	sock_listen_stop(sl);
	ok(tcp_dial(port) < 0, "stop closes the listening socket (connect refused)");
	sock_listen_stop(NULL);
	ok(1, "stop(NULL) is a no-op");
}

/* Out of descriptors: pause (no spinning), one warning with the plugin's text, a note on recovery. */
static void test_emfile(struct fh_plugin *P, struct event_base *base)
{
	struct broker_accept_sink sink = { 0 };
	struct sock_listen_opts o;
	struct sock_listener *sl = NULL;
	struct rlimit old, lim;
	char err[256] = "";
	int fd, port = 0, client = -1, dups[256], ndup = 0, warns, i;
	long long end;
	int iters = 0;

	fd = tcp_listener(&port);
	memset(&o, 0, sizeof(o));
	o.scheme = "test";
	o.where = "emfile-test";
	o.peer = test_peer;
	o.error_text = test_error_text;
	if (sock_listen_start(fh_host(), HANDLE(P), &sink, fd, &o, &sl, err, sizeof(err)) < 0) {
		ok(0, "listen for the EMFILE test: %s", err);
		return;
	}
	client = socket(AF_INET, SOCK_STREAM, 0);
	getrlimit(RLIMIT_NOFILE, &old);
	lim = old;
	lim.rlim_cur = 64;
	if (client < 0 || setrlimit(RLIMIT_NOFILE, &lim) < 0) {
		skip(4, "the EMFILE pause: cannot lower RLIMIT_NOFILE");
		goto out;
	}
	while (ndup < 256 && (dups[ndup] = dup(0)) >= 0)
		ndup++;
	warns = fh.warnings;
	{
		struct sockaddr_in sin = { .sin_family = AF_INET };

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((uint16_t)port);
		if (connect(client, (struct sockaddr *)&sin, sizeof(sin)) < 0)
			diag("connect: %s", strerror(errno));
	}
	end = fh_now_ms() + 300;
	while (fh_now_ms() < end) {
		event_base_loop(base, EVLOOP_ONCE);
		iters++;
	}
	ok(iters < 200 && sink.n == 0, "EMFILE: the loop stays idle (%d iterations in 300 ms)", iters);
	ok(fh.warnings - warns == 1 &&
	   strstr(fh.log, "emfile-test: accept failed: custom text for error 24; pausing accepts for 100 ms"),
	   "EMFILE: one warning per burst, with the plugin's error text");
	for (i = 0; i < ndup; i++)
		close(dups[i]);
	setrlimit(RLIMIT_NOFILE, &old);
	fh_wait_int(base, &sink.n, 1, 2000);
	ok(sink.n == 1, "accepting resumes once descriptors are free");
	ok(strstr(fh.log, "emfile-test: accepting connections again") != NULL, "the recovery is noted");
out:
	if (client >= 0)
		close(client);
	fh_sink_close(&sink);
	sock_listen_stop(sl);
}

static void test_backlog(struct fh_plugin *P)
{
	struct broker_url u;
	struct broker_url_param prm = { "backlog", "lots" };
	char err[256] = "";
	int b = 0, r;

	fh_url(&u, "test", "x", NULL, 0);
	r = sock_listen_backlog(fh_host(), HANDLE(P), &u, 77, &b, err, sizeof(err));
	ok(r == 0 && b == 77, "no ?backlog= and option 0: the plugin's default (%d)", b);
	fh_option(P, "backlog", "300");
	r = sock_listen_backlog(fh_host(), HANDLE(P), &u, 77, &b, err, sizeof(err));
	ok(r == 0 && b == 300, "the backlog option (%d)", b);
	fh_url(&u, "test", "x", &prm, 1);
	r = sock_listen_backlog(fh_host(), HANDLE(P), &u, 77, &b, err, sizeof(err));
	ok(r == -EINVAL && strcmp(err, "bad backlog \"lots\" (a number from 1 to 65535)") == 0,
	   "?backlog=lots: \"%s\"", err);
	prm.value = "70000";
	r = sock_listen_backlog(fh_host(), HANDLE(P), &u, 77, &b, err, sizeof(err));
	ok(r == -EINVAL && strcmp(err, "backlog 70000 too large (at most 65535)") == 0,
	   "?backlog=70000: \"%s\"", err);
	prm.value = "16";
	r = sock_listen_backlog(fh_host(), HANDLE(P), &u, 77, &b, err, sizeof(err));
	ok(r == 0 && b == 16, "?backlog=16 wins over the option (%d)", b);
	fh_option(P, "backlog", NULL);
}

/* ------------------------------------------------------------- spawn_capture */

struct spawn_seen {
	int calls;
	char out[64];
	size_t outlen;
	char err[SPAWN_ERR_MAX];
	int killed, status_known, status;
	char what[200];
	struct spawn_opts o;
};

static void spawn_done(void *arg, const struct spawn_result *res)
{
	struct spawn_seen *s = arg;

	s->calls++;
	snprintf(s->out, sizeof(s->out), "%s", res->out);
	s->outlen = res->outlen;
	snprintf(s->err, sizeof(s->err), "%s", res->err);
	s->killed = res->killed;
	s->status_known = res->status_known;
	s->status = res->status;
	spawn_capture_failed(res, &s->o, s->what, sizeof(s->what));
}

/* pid exists and is not a zombie (an orphan's zombie waits for init to reap it). */
static int alive(pid_t pid)
{
	char path[64], buf[256], *close;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	close = strrchr(buf, ')');
	return close && close[1] == ' ' && close[2] != 'Z';
}

/* Give a SIGKILLed process up to 2 s to be gone (delivery is asynchronous). */
static int gone_soon(pid_t pid)
{
	int i;

	for (i = 0; i < 200 && alive(pid); i++)
		usleep(10000);
	return !alive(pid);
}

/* Run sh -c script to its end (10 s at most); its pid in *pid.  The start's result. */
static int spawn_run(struct fh_plugin *P, struct event_base *base, const char *script, long timeout_ms,
                     size_t max_output, struct spawn_seen *s, pid_t *pid, char *err, size_t errlen)
{
	char *argv[] = { (char *)"sh", (char *)"-c", (char *)script, NULL };
	struct spawn_capture *sc = NULL;
	int r;

	memset(s, 0, sizeof(*s));
	s->o.name = "sh";
	s->o.timeout_ms = timeout_ms;
	s->o.max_output = max_output;
	s->o.done = spawn_done;
	s->o.arg = s;
	r = spawn_capture_start(fh_host(), HANDLE(P), argv, &s->o, &sc, err, errlen);
	if (r < 0)
		return r;
	if (pid)
		*pid = spawn_capture_pid(sc);
	if (s->calls)
		diag("done was called from inside spawn_capture_start");
	fh_wait_int(base, &s->calls, 1, 10000);
	return 0;
}

static void test_spawn(struct fh_plugin *P, struct event_base *base)
{
	struct spawn_seen s;
	struct spawn_capture *sc = NULL;
	char *bad[] = { (char *)"/nonexistent/dump-command", (char *)"-t", (char *)"nat", NULL };
	char err[256] = "";
	pid_t pid = 0;
	int r;

	r = spawn_run(P, base, "printf 'a b\\nc'; printf 'warn\\n2nd\\n\\n' >&2", 5000, 4096, &s, NULL,
	              err, sizeof(err));
	ok(r == 0 && s.calls == 1 && strcmp(s.out, "a b\nc") == 0 && s.outlen == 5,
	   "stdout captured whole (%zu bytes)", s.outlen);
	ok(strcmp(s.err, "warn 2nd") == 0, "stderr: line breaks become blanks, trailing ones cut: \"%s\"",
	   s.err);
	ok(s.status_known && WIFEXITED(s.status) && WEXITSTATUS(s.status) == 0 && s.what[0] == '\0',
	   "exit status 0 is success");

	r = spawn_run(P, base, "head -c 300000 /dev/zero | tr '\\0' x", 5000, 1 << 20, &s, NULL, err,
	              sizeof(err));
	ok(r == 0 && s.outlen == 300000 && s.what[0] == '\0', "300000 bytes of stdout arrive in full (%zu)",
	   s.outlen);

	spawn_run(P, base, "echo 'table nat: no such file' >&2; exit 3", 5000, 4096, &s, NULL, err,
	          sizeof(err));
	ok(strcmp(s.what, "exit status 3: table nat: no such file") == 0, "exit 3: \"%s\"", s.what);
	spawn_run(P, base, "exit 127", 5000, 4096, &s, NULL, err, sizeof(err));
	ok(strcmp(s.what, "cannot run it (exit 127: not installed?)") == 0, "exit 127: \"%s\"", s.what);
	spawn_run(P, base, "kill -TERM $$", 5000, 4096, &s, NULL, err, sizeof(err));
	ok(strcmp(s.what, "killed by signal 15") == 0, "a signal: \"%s\"", s.what);

	/* A grandchild in the background must die with it: the whole group is killed. */
	spawn_run(P, base, "sleep 30 & echo $! >&2; sleep 30", 300, 4096, &s, &pid, err, sizeof(err));
	ok(s.killed == SPAWN_KILLED_TIMEOUT &&
	   strcmp(s.what, "still running after 300 ms; killed") == 0, "timeout: \"%s\"", s.what);
	ok(atoi(s.err) > 0 && gone_soon(pid) && gone_soon((pid_t)atoi(s.err)),
	   "the child and its background grandchild (%s) are dead", s.err);
	spawn_run(P, base, "yes", 5000, 4096, &s, NULL, err, sizeof(err));
	ok(s.killed == SPAWN_KILLED_OUTPUT && strcmp(s.what, "printed more than 4096 bytes; killed") == 0,
	   "too much output: \"%s\"", s.what);

	memset(&s, 0, sizeof(s));
	s.o.name = "dump";
	s.o.timeout_ms = 1000;
	s.o.max_output = 4096;
	s.o.done = spawn_done;
	s.o.arg = &s;
	r = spawn_capture_start(fh_host(), HANDLE(P), bad, &s.o, &sc, err, sizeof(err));
	ok(r == -ENOENT &&
	   strcmp(err, "cannot run /nonexistent/dump-command: No such file or directory") == 0,
	   "a missing command: %d \"%s\"", r, err);

	{
		char *argv[] = { (char *)"sleep", (char *)"30", NULL };

		memset(&s, 0, sizeof(s));
		s.o = (struct spawn_opts){ "sleep", 5000, 4096, spawn_done, &s };
		r = spawn_capture_start(fh_host(), HANDLE(P), argv, &s.o, &sc, err, sizeof(err));
		pid = r == 0 ? spawn_capture_pid(sc) : 0;
		if (r == 0)
			spawn_capture_abort(sc);
		fh_run_for(base, 50);
		ok(r == 0 && s.calls == 0 && gone_soon(pid),
		   "abort kills and reaps the child and reports nothing");
	}
	spawn_capture_abort(NULL);
}

/* ------------------------------------------------------------- seen_twice */

struct st_entry {
	int key, content;
	struct seen_twice_mark mark;
	int rep;                        /* the content reported */
};

static char st_events[512];

static void st_event(const char *what, int key)
{
	size_t n = strlen(st_events);

	snprintf(st_events + n, sizeof(st_events) - n, "%s%s%d", n ? " " : "", what, key);
}

static int st_cmp(const void *a, const void *b)
{
	return ((const struct st_entry *)a)->key - ((const struct st_entry *)b)->key;
}

static int st_same(const void *cur, const void *old)
{
	return ((const struct st_entry *)cur)->content == ((const struct st_entry *)old)->content;
}

static void st_carry(void *cur, const void *old)
{
	((struct st_entry *)cur)->rep = ((const struct st_entry *)old)->rep;
}

static int st_changed(const void *e)
{
	return ((const struct st_entry *)e)->content != ((const struct st_entry *)e)->rep;
}

static void st_confirm(void *ctx, void *e)
{
	(void)ctx;
	((struct st_entry *)e)->rep = ((struct st_entry *)e)->content;
}

static void st_report(void *ctx, void *e)
{
	(void)ctx;
	st_event("+", ((struct st_entry *)e)->key);
}

static void st_gone(void *ctx, const void *old)
{
	(void)ctx;
	st_event("-", ((const struct st_entry *)old)->key);
}

static const struct seen_twice_ops st_ops = {
	.size = sizeof(struct st_entry),
	.mark = offsetof(struct st_entry, mark),
	.cmp = st_cmp,
	.same = st_same,
	.carry = st_carry,
	.changed = st_changed,
	.confirm = st_confirm,
	.report = st_report,
	.gone = st_gone,
};

struct st_table {
	struct st_entry e[8];
	size_t n;
};

/* One scan finding "key=content ..." (sorted): merge into *tab; the events it caused. */
static const char *st_scan(struct seen_twice *t, struct st_table *tab, const char *found, int *first)
{
	struct st_table cur = { .n = 0 };
	const char *p = found;
	int k, c, used;

	while (cur.n < 8 && sscanf(p, "%d=%d%n", &k, &c, &used) == 2) {
		cur.e[cur.n++] = (struct st_entry){ .key = k, .content = c };
		p += used;
	}
	st_events[0] = '\0';
	seen_twice_merge(&st_ops, NULL, t->synced, tab->e, tab->n, cur.e, cur.n);
	*tab = cur;
	*first = seen_twice_scan_done(t);
	if (*first)
		seen_twice_report_all(&st_ops, NULL, tab->e, tab->n);
	return st_events;
}

static void test_seen_twice(void)
{
	struct seen_twice t = { 0, 0 };
	struct st_table tab = { .n = 0 };
	const char *ev;
	int first;

	ev = st_scan(&t, &tab, "1=10 2=20", &first);
	ok(!first && ev[0] == '\0', "scan 1: nothing reported (\"%s\")", ev);
	ev = st_scan(&t, &tab, "1=10 2=20 3=30", &first);
	ok(first && strcmp(ev, "+1 +2") == 0,
	   "scan 2: the first snapshot holds what two scans saw: \"%s\"", ev);
	ev = st_scan(&t, &tab, "2=20 3=30 4=40", &first);
	ok(!first && strcmp(ev, "-1 +3") == 0, "scan 3: one gone, one confirmed: \"%s\"", ev);
	ev = st_scan(&t, &tab, "2=21 3=30", &first);
	ok(strcmp(ev, "") == 0 && tab.e[0].mark.seen == 1 && tab.e[0].mark.reported,
	   "scan 4: a changed content restarts the count; a one-scan blip is never reported (\"%s\")", ev);
	ev = st_scan(&t, &tab, "2=21 3=30", &first);
	ok(strcmp(ev, "+2") == 0 && tab.e[0].rep == 21, "scan 5: the change is confirmed and reported again: \"%s\"",
	   ev);
	ev = st_scan(&t, &tab, "3=30", &first);
	ok(strcmp(ev, "-2") == 0, "scan 6: gone after one scan without it: \"%s\"", ev);
	ev = st_scan(&t, &tab, "", &first);
	ok(!first && strcmp(ev, "-3") == 0 && t.scans == 7, "an empty scan removes the rest; the snapshot came once");
}

/* ------------------------------------------------------------- ctab */

struct test_ct {
	struct ctab_entry e;
	int extra;
};

static void ct_describe(const struct ctab_entry *e, char *buf, size_t len)
{
	snprintf(buf, len, "test container %s", e->name[0] ? e->name : e->label);
}

static struct portmap_binding *ports(int n, uint16_t first)
{
	struct portmap_binding *b = calloc((size_t)n, sizeof(*b));

	for (int i = 0; b && i < n; i++) {
		b[i].proto = BROKER_PROTO_TCP;
		snprintf(b[i].host_ip, sizeof(b[i].host_ip), "0.0.0.0");
		b[i].host_port = (uint16_t)(first + i);
		b[i].nconnect = 1;
		snprintf(b[i].connect[0], sizeof(b[i].connect[0]), "127.0.0.1:%d", first + i);
	}
	return b;
}

static int only_extra(const struct ctab_entry *e)
{
	return ((const struct test_ct *)e)->extra && e->nmaps;
}

static void test_ctab(struct fh_plugin *P)
{
	struct ctab t;
	struct test_ct *a, *b;
	const char *text;

	ctab_init(&t, fh_host(), HANDLE(P), sizeof(struct test_ct), 2, ct_describe);
	a = (struct test_ct *)ctab_add(&t, "ns/aaaa", "ns/aaaa");
	b = (struct test_ct *)ctab_add(&t, "bbbbbbbbbbbbbbbb", "bbbbbbbbbbbb");
	ok(a && b && a->extra == 0 && a->e.epoch == 0 && t.n == 2 &&
	   (struct test_ct *)ctab_find(&t, "ns/aaaa") == a && ctab_add(&t, "ns/aaaa", "x") == &a->e,
	   "add, find, and add of a known owner finds it");
	ok(!ctab_add(&t, "cccc", "short-c") && strstr(fh.log, "more than 2 containers; short-c is ignored") &&
	   t.n == 2, "past the cap: refused with the label in the log");

	fh_calls_clear();
	snprintf(a->e.name, sizeof(a->e.name), "web");
	ctab_set_maps(&a->e, ports(2, 8080), 2);
	ctab_report(&t, &a->e);
	text = fh_text("ns/aaaa");
	ok(a->e.reported && text && strcmp(text, "tcp 0.0.0.0:8080 -> 127.0.0.1:8080; tcp 0.0.0.0:8081 -> 127.0.0.1:8081") == 0 &&
	   strcmp(fh_owner("ns/aaaa")->desc, "test container web") == 0, "report: one mapping_set: %s",
	   text ? text : "(none)");
	ctab_set_maps(&a->e, NULL, 0);
	ctab_report(&t, &a->e);
	ok(!a->e.reported && !fh_owner("ns/aaaa"), "report with no ports removes them");

	ctab_set_maps(&b->e, ports(1, 9000), 1);
	ctab_report(&t, &b->e);
	fh_calls_clear();
	ctab_gone(&t, &b->e);
	ctab_gone(&t, &b->e);
	ok(strcmp(fh.calls, "remove bbbbbbbbbbbb\n") == 0 && !b->e.reported && b->e.nmaps == 0 && !b->e.maps,
	   "gone: removed once, ports forgotten");

	ctab_set_maps(&a->e, ports(2, 8080), 2);
	ctab_set_maps(&b->e, ports(1, 9000), 1);
	ctab_report(&t, &b->e);
	fh_calls_clear();
	ok(ctab_report_all(&t, NULL) == 0 && fh_owner("ns/aaaa") && fh_owner("bbbbbbbbbbbbbbbb") &&
	   strstr(fh.log, "resync: 2 containers with 3 published ports") &&
	   strncmp(fh.calls, "begin\n", 6) == 0 && strstr(fh.calls, "commit\n"), "report_all: one resync of all");
	a->extra = 1;
	ctab_report_all(&t, only_extra);
	ok(fh_owner("ns/aaaa") && !fh_owner("bbbbbbbbbbbbbbbb") && !b->e.reported && a->e.reported,
	   "report_all(wanted): the commit drops the others");
	ctab_free(&t, &a->e);
	ok(t.n == 1 && !ctab_find(&t, "ns/aaaa"), "free forgets one");
	ctab_clear(&t);
	ok(t.n == 0 && !t.head, "clear forgets all");
}

int main(void)
{
	struct event_base *base = fh_base_new();
	struct fh_plugin P;

	plan(46);
	fh_echo_level = BROKER_LOG_WARN;
	fh_reset();
	fh_bare(&P, &test_plugin, base);
	test_accept(&P, base);
	test_emfile(&P, base);
	test_backlog(&P);
	test_spawn(&P, base);
	test_seen_twice();
	test_ctab(&P);
	fh_base_free(base);
	return done_testing();
}
