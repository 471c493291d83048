/*
 * tests/unit/test_docker.c - the docker watcher plugin (loaded with dlopen,
 * driven through a fake host table that records mapping calls) against a
 * fake dockerd: a libevent server on a unix socket in this process that
 * serves the fixtures in tests/unit/docker/ (written from the Docker Engine
 * API reference), streams /events as chunks the test pushes, and can hold,
 * refuse or inflate answers; TAP.
 *
 * Plugin: argv[1], or $DOCKER_PLUGIN, or $top_builddir/plugins/docker/.libs/docker.so.
 * Fixtures: $top_srcdir/tests/unit/docker.
 */
#include <config.h>

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "broker/plugin.h"
#include "tests/unit/tap.h"

#define ID_A "aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111"
#define ID_B "bbbbbbbbbbbb2222222222222222222222222222222222222222222222222222"
#define ID_C "cccccccccccc3333333333333333333333333333333333333333333333333333"
#define ID_D "dddddddddddd4444444444444444444444444444444444444444444444444444"
#define ID_E "eeeeeeeeeeee5555555555555555555555555555555555555555555555555555"
#define ID_F "ffffffffffff6666666666666666666666666666666666666666666666666666"
#define ID_G "7777777777770000000000000000000000000000000000000000000000000000"
#define ID_S "1111111111118888888888888888888888888888888888888888888888888888"
#define ID_U "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
#define ID_Z "2222222222229999999999999999999999999999999999999999999999999999"
#define ID_BIG "3333333333330000000000000000000000000000000000000000000000000000"
#define ID_BIGC "4444444444440000000000000000000000000000000000000000000000000000"
#define ID_R "5555555555550000000000000000000000000000000000000000000000000000"

static struct event_base *base;
static char fixdir[512];
static char sockpath[108];

/* ------------------------------------------------------------- fake core */

struct broker_plugin_handle {
	const struct broker_plugin *p;
	struct event_base *base;
};

struct broker_timer {
	struct broker_timer *next;      /* all timers, released before stop like the core does */
	struct event *ev;
	broker_timer_fn fn;
	void *arg;
};

static char logbuf[1 << 20];
static size_t loglen;
static char calls[1 << 16];     /* mapping calls, one per line */
static size_t callslen;
static int ncommits;
static int in_resync;

static void f_vlog(struct broker_plugin_handle *h, enum broker_log_level level, const char *fmt, va_list ap)
{
	char line[1200];

	(void)h;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "# [docker] L%d: %s\n", (int)level, line);
	if (loglen + strlen(line) + 2 < sizeof(logbuf))
		loglen += (size_t)snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s\n", line);
}

static void f_log(struct broker_plugin_handle *h, enum broker_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void f_log(struct broker_plugin_handle *h, enum broker_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	f_vlog(h, level, fmt, ap);
	va_end(ap);
}

static struct event_base *f_event_base(struct broker_plugin_handle *h)
{
	return h->base;
}

static const char *f_option_string(struct broker_plugin_handle *h, const char *name)
{
	const struct broker_option *o;

	if (strcmp(name, "socket") == 0)
		return sockpath;
	for (o = h->p->options; o && o->type != BROKER_OPT_END; o++)
		if (strcmp(o->name, name) == 0)
			return o->default_value;
	return NULL;
}

static long long f_option_int(struct broker_plugin_handle *h, const char *name)
{
	const char *s = f_option_string(h, name);

	return s ? strtoll(s, NULL, 0) : 0;
}

static int f_option_bool(struct broker_plugin_handle *h, const char *name)
{
	const char *s = f_option_string(h, name);

	return s && strcmp(s, "true") == 0;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct broker_timer *t = arg;

	(void)fd;
	(void)what;
	t->fn(t->arg);
}

static struct broker_timer *timers;

static struct broker_timer *f_timer_new(struct broker_plugin_handle *h, broker_timer_fn fn, void *arg)
{
	struct broker_timer *t = calloc(1, sizeof(*t));

	t->next = timers;
	timers = t;
	t->fn = fn;
	t->arg = arg;
	t->ev = evtimer_new(h->base, timer_cb, t);
	return t;
}

static int f_timer_arm(struct broker_timer *t, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms < 0)
		return evtimer_del(t->ev);
	return evtimer_add(t->ev, &tv);
}

static void f_timer_free(struct broker_timer *t)
{
	struct broker_timer **pp;

	for (pp = &timers; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	event_free(t->ev);
	free(t);
}

/* The core frees a plugin's timers before calling its stop. */
static void release_timers(void)
{
	while (timers)
		f_timer_free(timers);
}

static void callf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void callf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (callslen < sizeof(calls) - 1)
		callslen += (size_t)vsnprintf(calls + callslen, sizeof(calls) - callslen, fmt, ap);
	va_end(ap);
	if (callslen >= sizeof(calls))
		callslen = sizeof(calls) - 1;
}

static int f_mapping_set(struct broker_plugin_handle *h, const char *owner, const char *description,
                         const struct broker_mapping *m, size_t n)
{
	size_t i, j;

	(void)h;
	callf("set %.12s n=%zu (%s)", owner, n, description);
	for (i = 0; i < n; i++) {
		callf(" %s %s:%u>", m[i].proto == BROKER_PROTO_UDP ? "udp" : "tcp", m[i].host_ip,
		      m[i].host_port);
		for (j = 0; j < m[i].nconnect; j++)
			callf("%s%s", j ? "|" : "", m[i].connect[j]);
		if (m[i].host_port == 0 || m[i].nconnect == 0)
			callf("!INVALID");
	}
	callf("\n");
	return 0;
}

static int f_mapping_remove(struct broker_plugin_handle *h, const char *owner)
{
	(void)h;
	callf("remove %.12s\n", owner);
	return 0;
}

static int f_resync_begin(struct broker_plugin_handle *h)
{
	(void)h;
	in_resync = 1;
	callf("begin\n");
	return 0;
}

static int f_resync_commit(struct broker_plugin_handle *h)
{
	(void)h;
	in_resync = 0;
	ncommits++;
	callf("commit\n");
	return 0;
}

static const struct broker_host fake_host = {
	.struct_size = sizeof(struct broker_host),
	.abi_major = BROKER_ABI_MAJOR,
	.abi_minor = BROKER_ABI_MINOR,
	.log = f_log,
	.vlog = f_vlog,
	.event_base = f_event_base,
	.option_string = f_option_string,
	.option_int = f_option_int,
	.option_bool = f_option_bool,
	.timer_new = f_timer_new,
	.timer_arm = f_timer_arm,
	.timer_free = f_timer_free,
	.mapping_set = f_mapping_set,
	.mapping_remove = f_mapping_remove,
	.resync_begin = f_resync_begin,
	.resync_commit = f_resync_commit,
};

/* ------------------------------------------------------------- fake dockerd */

#define MAX_CONNS 64
#define MAX_PATHS 512

struct conn {
	struct bufferevent *bev;
	int used;
	int is_events;
	int held;               /* answer withheld until release_held() */
	char path[512];
};

static struct evconnlistener *listener;
static struct conn conns[MAX_CONNS];
static char list_file[64] = "list.json";
static int events_conns;        /* /events requests seen */
static int paths_seen;
static char paths[MAX_PATHS][128];
static char hold_id[128];

static char *read_fixture(const char *name, size_t *len)
{
	char path[700];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", fixdir, name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void conn_close(struct conn *c)
{
	if (c->bev)
		bufferevent_free(c->bev);
	memset(c, 0, sizeof(*c));
}

static void send_body(struct conn *c, int status, const char *body, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\n"
	                         "Docker-Experimental: false\r\nOstype: linux\r\nServer: Docker/20.10.24 (linux)\r\n"
	                         "Content-Length: %zu\r\n\r\n",
	                    status, status == 200 ? "OK" : "Not Found", len);
	evbuffer_add(out, body, len);
}

/* Which fixture answers GET /containers/ID/json. */
static const char *inspect_fixture(const char *id)
{
	static const struct { const char *id, *file; } map[] = {
		{ ID_A, "inspect_web.json" },           { ID_B, "inspect_mixed.json" },
		{ ID_C, "inspect_hostile_ports.json" }, { ID_D, "inspect_truncated.json" },
		{ ID_E, "inspect_wrong_types.json" },   { ID_F, "inspect_ports_string.json" },
		{ ID_G, "inspect_other_id.json" },      { ID_S, "inspect_stopped.json" },
		{ ID_Z, "inspect_array.json" },         { ID_R, "inspect_racer.json" },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].id, id) == 0)
			return map[i].file;
	return NULL;
}

static void answer(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char id[128];
	size_t len;
	char *doc;

	if (strncmp(c->path, "/events?", 8) == 0) {
		c->is_events = 1;
		events_conns++;
		evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\n"
		                         "Server: Docker/20.10.24 (linux)\r\nTransfer-Encoding: chunked\r\n\r\n");
		return;
	}
	if (strcmp(c->path, "/containers/json") == 0) {
		doc = read_fixture(list_file, &len);
		send_body(c, 200, doc ? doc : "[]", doc ? len : 2);
		free(doc);
		return;
	}
	if (sscanf(c->path, "/containers/%127[^/]/json", id) == 1) {
		const char *file = inspect_fixture(id);

		if (strcmp(id, ID_BIG) == 0) {
			/* 17 MiB announced: must be refused before it is read */
			evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n{\"Id\":", 17 << 20);
			return;
		}
		if (strcmp(id, ID_BIGC) == 0) {
			/* chunked, growing past 16 MiB */
			char *chunk = malloc(1 << 20);
			int i;

			memset(chunk, ' ', 1 << 20);
			evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n[\r\n");
			for (i = 0; i < 17; i++) {
				evbuffer_add_printf(out, "%x\r\n", 1 << 20);
				evbuffer_add(out, chunk, 1 << 20);
				evbuffer_add(out, "\r\n", 2);
			}
			free(chunk);
			return;
		}
		if (hold_id[0] && strcmp(id, hold_id) == 0) {
			c->held = 1;
			return;
		}
		doc = file ? read_fixture(file, &len) : NULL;
		if (!doc) {
			static const char nf[] = "{\"message\":\"No such container: x\"}";

			send_body(c, 404, nf, sizeof(nf) - 1);
			return;
		}
		send_body(c, 200, doc, len);
		free(doc);
		return;
	}
	send_body(c, 404, "{\"message\":\"page not found\"}", 28);
}

static void release_held(void)
{
	int i;

	hold_id[0] = '\0';
	for (i = 0; i < MAX_CONNS; i++)
		if (conns[i].used && conns[i].held) {
			conns[i].held = 0;
			answer(&conns[i]);
		}
}

static void srv_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	char *head;

	if (c->path[0] || p.pos < 0)
		return;
	head = malloc((size_t)p.pos + 1);
	evbuffer_remove(in, head, (size_t)p.pos);
	head[p.pos] = '\0';
	if (sscanf(head, "GET %511s HTTP/1.1", c->path) != 1 || !strstr(head, "\r\nHost: "))
		snprintf(c->path, sizeof(c->path), "/bad-request");
	free(head);
	if (paths_seen < MAX_PATHS)
		snprintf(paths[paths_seen++], sizeof(paths[0]), "%.127s", c->path);
	answer(c);
}

static void srv_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_close(arg);
}

static void srv_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	int i;

	(void)l;
	(void)sa;
	(void)salen;
	(void)arg;
	for (i = 0; i < MAX_CONNS && conns[i].used; i++)
		;
	if (i == MAX_CONNS) {
		close(fd);
		return;
	}
	conns[i].used = 1;
	conns[i].bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(conns[i].bev, srv_read, NULL, srv_event, &conns[i]);
	bufferevent_enable(conns[i].bev, EV_READ | EV_WRITE);
}

static int server_start(void)
{
	struct sockaddr_un sun;

	unlink(sockpath);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sockpath);
	listener = evconnlistener_new_bind(base, srv_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
	                                   (struct sockaddr *)&sun, sizeof(sun));
	return listener ? 0 : -1;
}

/* Close every connection (dockerd going away) and optionally stop listening. */
static void server_drop_all(int stop_listening)
{
	int i;

	for (i = 0; i < MAX_CONNS; i++)
		if (conns[i].used)
			conn_close(&conns[i]);
	if (stop_listening && listener) {
		evconnlistener_free(listener);
		listener = NULL;
		unlink(sockpath);
	}
}

static struct conn *events_conn(void)
{
	int i;

	for (i = 0; i < MAX_CONNS; i++)
		if (conns[i].used && conns[i].is_events)
			return &conns[i];
	return NULL;
}

/* Send raw bytes as one chunk of the event stream. */
static void push_raw(const char *data, size_t len)
{
	struct conn *c = events_conn();

	if (!c)
		return;
	evbuffer_add_printf(bufferevent_get_output(c->bev), "%zx\r\n", len);
	evbuffer_add(bufferevent_get_output(c->bev), data, len);
	evbuffer_add(bufferevent_get_output(c->bev), "\r\n", 2);
}

static void push_str(const char *s)
{
	push_raw(s, strlen(s));
}

/* An event from a template fixture, with @ID@ and @NAME@ replaced. */
static void push_event(const char *tmpl, const char *id, const char *name)
{
	size_t len, o = 0;
	char *t = read_fixture(tmpl, &len), out[4096];
	const char *p;

	for (p = t; p && *p && o < sizeof(out) - 200; p++) {
		if (strncmp(p, "@ID@", 4) == 0) {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", id);
			p += 3;
		} else if (strncmp(p, "@NAME@", 6) == 0) {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", name);
			p += 5;
		} else if (*p != '\n') {
			out[o++] = *p;
		}
	}
	out[o++] = '\n';
	free(t);
	/* split in two chunks to exercise reassembly */
	push_raw(out, o / 2);
	push_raw(out + o / 2, o - o / 2);
}

/* ------------------------------------------------------------- helpers */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_ms(long ms)
{
	long long end = now_ms() + ms;
	struct timeval tv = { 0, 5000 };

	while (now_ms() < end) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

static int run_until_calls(const char *needle, long ms)
{
	long long end = now_ms() + ms;
	struct timeval tv = { 0, 5000 };

	while (!strstr(calls, needle) && now_ms() < end) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return strstr(calls, needle) != NULL;
}

static int run_until_log(const char *needle, long ms)
{
	long long end = now_ms() + ms;
	struct timeval tv = { 0, 5000 };

	while (!strstr(logbuf, needle) && now_ms() < end) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return strstr(logbuf, needle) != NULL;
}

static int run_until_int(const int *v, int want, long ms)
{
	long long end = now_ms() + ms;
	struct timeval tv = { 0, 5000 };

	while (*v < want && now_ms() < end) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return *v >= want;
}

static void clear_calls(void)
{
	callslen = 0;
	calls[0] = '\0';
}

static int path_seen(const char *needle)
{
	int i;

	for (i = 0; i < paths_seen; i++)
		if (strstr(paths[i], needle))
			return 1;
	return 0;
}

/* ------------------------------------------------------------- tests */

int main(int argc, char **argv)
{
	const char *plugin = argc > 1 ? argv[1] : getenv("DOCKER_PLUGIN");
	const char *srcdir = getenv("top_srcdir"), *builddir = getenv("top_builddir");
	struct broker_plugin_handle h;
	const struct broker_plugin *p;
	broker_plugin_entry_fn entry;
	char pathbuf[700], err[256] = "";
	void *dl, *state = NULL;
	int rc;

	signal(SIGPIPE, SIG_IGN);   /* as brokerd does: writes to closed sockets fail with EPIPE */
	snprintf(fixdir, sizeof(fixdir), "%s/tests/unit/docker", srcdir ? srcdir : ".");
	if (!plugin) {
		snprintf(pathbuf, sizeof(pathbuf), "%s/plugins/docker/.libs/docker.so", builddir ? builddir : ".");
		plugin = pathbuf;
	}
	snprintf(sockpath, sizeof(sockpath), "/tmp/test_docker.%ld.sock", (long)getpid());
	base = event_base_new();

	dl = dlopen(plugin, RTLD_NOW | RTLD_LOCAL);
	if (!ok(dl != NULL, "dlopen %s", plugin)) {
		diag("%s", dlerror());
		return done_testing();
	}
	*(void **)&entry = dlsym(dl, BROKER_PLUGIN_ENTRY);
	p = entry(&fake_host);
	is_str(p->name, "docker", "plugin name");
	ok(p->kinds == BROKER_KIND_WATCHER && p->resync && p->start && p->stop, "a watcher with start/stop/resync");
	h.p = p;
	h.base = base;
	{
		size_t l;
		char *t = read_fixture("list.json", &l);

		if (!ok(t != NULL, "fixtures readable in %s", fixdir))
			return done_testing();
		free(t);
	}

	ok(server_start() == 0, "fake dockerd listens on %s", sockpath);
	rc = p->init(&h, &state, err, sizeof(err));
	is_int(rc, 0, "init: %s", err);
	rc = p->start(state, err, sizeof(err));
	is_int(rc, 0, "start: %s", err);

	/* ---- initial resync: events first, then list, then inspects ---- */
	ok(run_until_int(&ncommits, 1, 3000), "initial resync committed");
	ok(paths_seen >= 2 && strncmp(paths[0], "/events?filters=", 16) == 0 &&
	       strstr(paths[0], "%22start%22") && strcmp(paths[1], "/containers/json") == 0,
	   "event stream opened before the list (%s, %s)", paths[0], paths[1]);
	like(calls, "begin\n", "resync_begin");
	like(calls, "set aaaaaaaaaaaa n=2 (docker container web (aaaaaaaaaaaa))", "web reported with 2 bindings");
	like(calls, " tcp 0.0.0.0:8080>127.0.0.1:8080|172.17.0.2:80", "IPv4 binding: 127.0.0.1:HOSTPORT first, container second");
	like(calls, " tcp :::8080>[::1]:8080|172.17.0.2:80", "IPv6 binding: [::1]:HOSTPORT first");
	like(calls, "set bbbbbbbbbbbb n=3 (docker container mixed", "mixed: 3 bindings (443 unpublished, sctp ignored)");
	like(calls, " tcp 127.0.0.1:8090>127.0.0.1:8090|172.18.0.3:80", "127.0.0.1 binding, container IP from Networks");
	like(calls, " udp 0.0.0.0:8082>127.0.0.1:8082|172.18.0.3:8125", "udp binding");
	like(calls, " udp :::8082>[::1]:8082|[fd00:dead::3]:8125|172.18.0.3:8125", "udp IPv6 binding with the container's IPv6");
	ok(strstr(calls, "commit\n") > strstr(calls, "set bbbbbbbbbbbb"), "commit after the sets");
	like(logbuf, "container list: entry 2 has no valid \"Id\"", "list entry with a bad id logged");
	ok(!path_seen("not-a-hex-id"), "a bad id from the list is never put in a URL");
	ok(!strstr(calls, "!INVALID"), "no invalid mapping reported");

	/* ---- events ---- */
	clear_calls();
	push_event("event_die.json", ID_A, "web");
	ok(run_until_calls("remove aaaaaaaaaaaa", 2000), "die -> mapping_remove");
	push_event("event_die.json", ID_A, "web");     /* stop after die: nothing new */
	push_event("event_network.json", ID_A, "bridge");
	push_event("event_start.json", ID_S, "stopped");
	run_until_log("event start 111111111111", 2000);
	run_ms(200);
	is_str(calls, "remove aaaaaaaaaaaa\n", "second die, a network event and a start of a stopped container report nothing");

	clear_calls();
	push_event("event_start.json", ID_A, "web");
	ok(run_until_calls("set aaaaaaaaaaaa n=2", 2000), "start -> inspect -> mapping_set");

	/* hostile ports: only the good binding survives, each bad one logged */
	clear_calls();
	push_event("event_start.json", ID_C, "hostile");
	ok(run_until_calls("set cccccccccccc", 2000), "hostile ports: reported");
	like(calls, "set cccccccccccc n=1 (docker container hostile (cccccccccccc)) tcp 0.0.0.0:9000>127.0.0.1:9000|172.17.0.9:9000\n",
	     "only the valid 9000/tcp binding (deduplicated)");
	like(logbuf, "HostPort \"0\" is not a port 1-65535", "HostPort 0 refused");
	like(logbuf, "HostPort \"70000\" is not a port 1-65535", "HostPort 70000 refused");
	like(logbuf, "HostPort is missing or not a string", "numeric HostPort refused");
	like(logbuf, "HostIp \"garbage\" is not an address", "bad HostIp refused");
	like(logbuf, "HostPort \" 80\" is not a port", "HostPort with a blank refused");
	like(logbuf, "HostIp is not a string", "numeric HostIp refused");
	like(logbuf, "is not an object; skipped", "binding that is not an object refused");
	like(logbuf, "port key \"abc/tcp\"", "port key abc/tcp refused");
	like(logbuf, "port key \"99999/tcp\"", "port key 99999/tcp refused");
	like(logbuf, "port key \"0/tcp\"", "port key 0/tcp refused");
	like(logbuf, "port key \"81/tcpx\"", "unknown protocol refused");
	like(logbuf, "Ports[\"82/tcp\"] is not an array", "bindings that are not an array refused");

	/* broken documents: nothing reported */
	clear_calls();
	push_event("event_start.json", ID_D, "trunc");
	push_event("event_start.json", ID_E, "wrong");
	push_event("event_start.json", ID_F, "wrong2");
	push_event("event_start.json", ID_G, "impostor");
	push_event("event_start.json", ID_Z, "array");
	push_event("event_start.json", ID_U, "unknown");
	ok(run_until_log("inspect 222222222222: inspect document is not a JSON object", 3000), "array document refused");
	ok(run_until_log("inspect dddddddddddd: not valid JSON", 3000), "truncated JSON refused");
	ok(run_until_log("inspect eeeeeeeeeeee: inspect document has no boolean \"State.Running\"", 3000),
	   "State.Running of the wrong type refused");
	ok(run_until_log("inspect ffffffffffff: \"NetworkSettings.Ports\" is not an object", 3000),
	   "Ports of the wrong type refused");
	ok(run_until_log("inspect 777777777777: answer is about container 000000000000", 3000),
	   "inspect answer about another id refused");
	ok(run_until_log("container abcdef012345 is gone", 3000), "event for an unknown container: 404, nothing reported");
	run_ms(100);
	is_str(calls, "", "no mapping call for broken documents or unknown containers");

	/* bad events */
	clear_calls();
	push_str("{not json\n");
	push_str("[1,2]\n");
	push_str("{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"../../../info\"}}\n");
	push_str("{\"Type\":\"container\",\"Action\":7,\"Actor\":{\"ID\":\"" ID_A "\"}}\n");
	ok(run_until_log("event has no string \"Action\"", 2000), "event with a numeric Action refused");
	like(logbuf, "event: not valid JSON", "garbage event line logged");
	like(logbuf, "event is not a JSON object", "array event refused");
	like(logbuf, "event has no valid container id", "event with a path as id refused");
	ok(!path_seen("../") && !path_seen("info"), "no request built from a hostile id");
	{
		/* one line over 1 MiB, then a good event in the same stream */
		size_t big = (1 << 20) + 100;
		char *line = malloc(big + 1);

		memset(line, 'x', big);
		line[0] = '{';
		line[big] = '\n';
		push_raw(line, big + 1);
		free(line);
	}
	clear_calls();
	push_event("event_start.json", ID_A, "web");
	ok(run_until_calls("set aaaaaaaaaaaa n=2", 3000), "stream still works after bad and over-long lines");
	like(logbuf, "event longer than 1048576 bytes; skipped", "over-long event line skipped with a log");

	/* huge documents */
	clear_calls();
	push_event("event_start.json", ID_BIG, "big");
	ok(run_until_log("exceeds the limit of 16777216 bytes", 3000), "17 MiB Content-Length refused");
	push_event("event_start.json", ID_BIGC, "bigc");
	ok(run_until_log("response body exceeds the limit of 16777216 bytes", 5000), "chunked body past 16 MiB refused");
	run_ms(100);
	ok(!strstr(calls, "333333333333") && !strstr(calls, "444444444444"), "no mapping for huge documents");
	is_int(events_conns, 1, "the event stream stayed up through all of it");

	/* race: a die overtakes a slow inspect */
	clear_calls();
	snprintf(hold_id, sizeof(hold_id), "%s", ID_R);
	push_event("event_start.json", ID_R, "racer");
	run_ms(150);
	ok(path_seen("/containers/" ID_R "/json"), "inspect for the racer sent (held)");
	push_event("event_die.json", ID_R, "racer");
	run_until_log("event die 555555555555", 2000);
	release_held();
	run_ms(300);
	ok(!strstr(calls, "set 555555555555"), "a stale inspect answer after die reports nothing");
	like(logbuf, "inspect 555555555555: newer event arrived; answer dropped", "the stale answer was dropped by epoch");
	/* and without the race the same fixture is reported */
	clear_calls();
	push_event("event_start.json", ID_R, "racer");
	ok(run_until_calls("set 555555555555 n=1", 2000), "the racer fixture itself is valid");

	/* core asks for a resync */
	clear_calls();
	rc = p->resync(state);
	is_int(rc, 0, "resync callback");
	like(calls, "begin\n", "resync callback: begin");
	like(calls, "set aaaaaaaaaaaa n=2", "resync callback: web");
	like(calls, "set cccccccccccc n=1", "resync callback: hostile's good binding");
	like(calls, "commit\n", "resync callback: commit");

	/* dockerd restarts: reconnect with backoff, resync in full */
	clear_calls();
	snprintf(list_file, sizeof(list_file), "list_after_restart.json");
	{
		FILE *f;

		snprintf(pathbuf, sizeof(pathbuf), "%s/%s", fixdir, list_file);
		f = fopen(pathbuf, "r");
		if (f)
			fclose(f);
		ok(f != NULL, "fixture %s present", list_file);
	}
	server_drop_all(1);
	ok(run_until_log("reconnecting to", 2000), "stream loss noticed");
	run_ms(700);           /* a few failed attempts while nothing listens */
	ok(run_until_log("Connection refused", 100) || strstr(logbuf, "No such file"), "connect failures while dockerd is down");
	ok(server_start() == 0, "fake dockerd back");
	{
		int before = ncommits;

		ok(run_until_int(&ncommits, before + 1, 12000), "resync after dockerd came back");
	}
	is_int(events_conns, 2, "one new event stream");
	like(calls, "begin\n", "restart resync: begin");
	like(calls, "set bbbbbbbbbbbb n=3", "restart resync: mixed still running");
	ok(!strstr(calls, "set aaaaaaaaaaaa") && !strstr(calls, "set cccccccccccc") && !strstr(calls, "set 555555555555"),
	   "containers absent from the new list are not set (the commit removes them)");
	like(logbuf, "connected to dockerd at", "reconnect logged");
	ok(!strstr(calls, "!INVALID"), "no invalid mapping reported");

	release_timers();
	p->stop(state);
	p->fini(state);
	server_drop_all(1);
	run_ms(50);
	event_base_free(base);
	return done_testing();
}
