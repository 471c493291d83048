/*
 * tests/unit/test_docker.c - the docker watcher plugin (loaded with dlopen,
 * driven through the fake host of fake_host.h, which records mapping fh.calls) against a
 * fake dockerd: a libevent server on a unix socket in this process that
 * serves the fixtures in tests/unit/docker/ (written from the Docker Engine
 * API reference), streams /events as chunks the test pushes, and can hold,
 * refuse or inflate answers; TAP.
 *
 * Plugin: argv[1], or $DOCKER_PLUGIN, or $top_builddir/plugins/docker/.libs/docker.so.
 * Fixtures: $top_srcdir/tests/unit/docker.
 */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "tests/unit/fake_host.h"
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
	const char *srcdir = getenv("top_srcdir");
	const struct broker_plugin *p;
	struct fh_plugin P;
	char pathbuf[700], sockopt[128], err[256] = "";
	const char *plugin = fh_plugin_path(argc, argv, 1, "DOCKER_PLUGIN", "docker", pathbuf, sizeof(pathbuf));
	const char *opts[] = { sockopt, NULL };
	int rc;

	plan(76);
	signal(SIGPIPE, SIG_IGN);   /* as brokerd does: writes to closed sockets fail with EPIPE */
	fh_echo_level = -1;         /* FH_VERBOSE=1 shows the plugin's log */
	snprintf(fixdir, sizeof(fixdir), "%s/tests/unit/docker", srcdir ? srcdir : ".");
	snprintf(sockpath, sizeof(sockpath), "/tmp/test_docker.%ld.sock", (long)getpid());
	snprintf(sockopt, sizeof(sockopt), "socket=%s", sockpath);
	base = fh_base_new();

	if (!ok(fh_open(&P, plugin, base) == 0, "dlopen %s", plugin))
		return done_testing();
	p = P.p;
	is_str(p->name, "docker", "plugin name");
	ok(p->kinds == BROKER_KIND_WATCHER && p->resync && p->start && p->stop, "a watcher with start/stop/resync");
	{
		size_t l;
		char *t = read_fixture("list.json", &l);

		if (!ok(t != NULL, "fixtures readable in %s", fixdir))
			return done_testing();
		free(t);
	}

	ok(server_start() == 0, "fake dockerd listens on %s", sockpath);
	rc = fh_init(&P, opts, err, sizeof(err));
	is_int(rc, 0, "init: %s", err);
	rc = fh_start(&P, err, sizeof(err));
	is_int(rc, 0, "start: %s", err);

	/* ---- initial resync: events first, then list, then inspects ---- */
	ok(fh_wait_int(base, &fh.commits, 1, 3000), "initial resync committed");
	ok(paths_seen >= 2 && strncmp(paths[0], "/events?filters=", 16) == 0 &&
	       strstr(paths[0], "%22start%22") && strcmp(paths[1], "/containers/json") == 0,
	   "event stream opened before the list (%s, %s)", paths[0], paths[1]);
	like(fh.calls, "begin\n", "resync_begin");
	like(fh.calls, "set aaaaaaaaaaaa n=2 (web)", "web reported with 2 bindings");
	like(fh.calls, " tcp 0.0.0.0:8080>127.0.0.1:8080|172.17.0.2:80", "IPv4 binding: 127.0.0.1:HOSTPORT first, container second");
	like(fh.calls, " tcp :::8080>[::1]:8080|172.17.0.2:80", "IPv6 binding: [::1]:HOSTPORT first");
	like(fh.calls, "set bbbbbbbbbbbb n=3 (mixed)", "mixed: 3 bindings (443 unpublished, sctp ignored)");
	like(fh.calls, " tcp 127.0.0.1:8090>127.0.0.1:8090|172.18.0.3:80", "127.0.0.1 binding, container IP from Networks");
	like(fh.calls, " udp 0.0.0.0:8082>127.0.0.1:8082|172.18.0.3:8125", "udp binding");
	like(fh.calls, " udp :::8082>[::1]:8082|[fd00:dead::3]:8125|172.18.0.3:8125", "udp IPv6 binding with the container's IPv6");
	ok(strstr(fh.calls, "commit\n") > strstr(fh.calls, "set bbbbbbbbbbbb"), "commit after the sets");
	like(fh.log, "container list: entry 2 has no valid \"Id\"", "list entry with a bad id logged");
	ok(!path_seen("not-a-hex-id"), "a bad id from the list is never put in a URL");
	ok(!strstr(fh.calls, "!INVALID"), "no invalid mapping reported");

	/* ---- events ---- */
	fh_calls_clear();
	push_event("event_die.json", ID_A, "web");
	ok(fh_wait_calls(base, "remove aaaaaaaaaaaa", 2000), "die -> mapping_remove");
	push_event("event_die.json", ID_A, "web");     /* stop after die: nothing new */
	push_event("event_network.json", ID_A, "bridge");
	push_event("event_start.json", ID_S, "stopped");
	fh_wait_log(base, "event start 111111111111", 2000);
	fh_run_for(base, 200);
	is_str(fh.calls, "remove aaaaaaaaaaaa\n", "second die, a network event and a start of a stopped container report nothing");

	fh_calls_clear();
	push_event("event_start.json", ID_A, "web");
	ok(fh_wait_calls(base, "set aaaaaaaaaaaa n=2", 2000), "start -> inspect -> mapping_set");

	/* hostile ports: only the good binding survives, each bad one logged */
	fh_calls_clear();
	push_event("event_start.json", ID_C, "hostile");
	ok(fh_wait_calls(base, "set cccccccccccc", 2000), "hostile ports: reported");
	like(fh.calls, "set cccccccccccc n=1 (hostile) tcp 0.0.0.0:9000>127.0.0.1:9000|172.17.0.9:9000\n",
	     "only the valid 9000/tcp binding (deduplicated)");
	like(fh.log, "HostPort \"0\" is not a port 1-65535", "HostPort 0 refused");
	like(fh.log, "HostPort \"70000\" is not a port 1-65535", "HostPort 70000 refused");
	like(fh.log, "HostPort is missing or not a string", "numeric HostPort refused");
	like(fh.log, "HostIp \"garbage\" is not an address", "bad HostIp refused");
	like(fh.log, "HostPort \" 80\" is not a port", "HostPort with a blank refused");
	like(fh.log, "HostIp is not a string", "numeric HostIp refused");
	like(fh.log, "is not an object; skipped", "binding that is not an object refused");
	like(fh.log, "port key \"abc/tcp\"", "port key abc/tcp refused");
	like(fh.log, "port key \"99999/tcp\"", "port key 99999/tcp refused");
	like(fh.log, "port key \"0/tcp\"", "port key 0/tcp refused");
	like(fh.log, "port key \"81/tcpx\"", "unknown protocol refused");
	like(fh.log, "Ports[\"82/tcp\"] is not an array", "bindings that are not an array refused");

	/* broken documents: nothing reported */
	fh_calls_clear();
	push_event("event_start.json", ID_D, "trunc");
	push_event("event_start.json", ID_E, "wrong");
	push_event("event_start.json", ID_F, "wrong2");
	push_event("event_start.json", ID_G, "impostor");
	push_event("event_start.json", ID_Z, "array");
	push_event("event_start.json", ID_U, "unknown");
	ok(fh_wait_log(base, "inspect 222222222222: inspect document is not a JSON object", 3000), "array document refused");
	ok(fh_wait_log(base, "inspect dddddddddddd: not valid JSON", 3000), "truncated JSON refused");
	ok(fh_wait_log(base, "inspect eeeeeeeeeeee: inspect document has no boolean \"State.Running\"", 3000),
	   "State.Running of the wrong type refused");
	ok(fh_wait_log(base, "inspect ffffffffffff: \"NetworkSettings.Ports\" is not an object", 3000),
	   "Ports of the wrong type refused");
	ok(fh_wait_log(base, "inspect 777777777777: answer is about container 000000000000", 3000),
	   "inspect answer about another id refused");
	ok(fh_wait_log(base, "container abcdef012345 is gone", 3000), "event for an unknown container: 404, nothing reported");
	fh_run_for(base, 100);
	is_str(fh.calls, "", "no mapping call for broken documents or unknown containers");

	/* bad events */
	fh_calls_clear();
	push_str("{not json\n");
	push_str("[1,2]\n");
	push_str("{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"../../../info\"}}\n");
	push_str("{\"Type\":\"container\",\"Action\":7,\"Actor\":{\"ID\":\"" ID_A "\"}}\n");
	ok(fh_wait_log(base, "event has no string \"Action\"", 2000), "event with a numeric Action refused");
	like(fh.log, "event: not valid JSON", "garbage event line logged");
	like(fh.log, "event is not a JSON object", "array event refused");
	like(fh.log, "event has no valid container id", "event with a path as id refused");
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
	fh_calls_clear();
	push_event("event_start.json", ID_A, "web");
	ok(fh_wait_calls(base, "set aaaaaaaaaaaa n=2", 3000), "stream still works after bad and over-long lines");
	like(fh.log, "event longer than 1048576 bytes; skipped", "over-long event line skipped with a log");

	/* huge documents */
	fh_calls_clear();
	push_event("event_start.json", ID_BIG, "big");
	ok(fh_wait_log(base, "exceeds the limit of 16777216 bytes", 3000), "17 MiB Content-Length refused");
	push_event("event_start.json", ID_BIGC, "bigc");
	ok(fh_wait_log(base, "response body exceeds the limit of 16777216 bytes", 5000), "chunked body past 16 MiB refused");
	fh_run_for(base, 100);
	ok(!strstr(fh.calls, "333333333333") && !strstr(fh.calls, "444444444444"), "no mapping for huge documents");
	is_int(events_conns, 1, "the event stream stayed up through all of it");

	/* race: a die overtakes a slow inspect */
	fh_calls_clear();
	snprintf(hold_id, sizeof(hold_id), "%s", ID_R);
	push_event("event_start.json", ID_R, "racer");
	fh_run_for(base, 150);
	ok(path_seen("/containers/" ID_R "/json"), "inspect for the racer sent (held)");
	push_event("event_die.json", ID_R, "racer");
	fh_wait_log(base, "event die 555555555555", 2000);
	release_held();
	fh_run_for(base, 300);
	ok(!strstr(fh.calls, "set 555555555555"), "a stale inspect answer after die reports nothing");
	like(fh.log, "inspect 555555555555: newer event arrived; answer dropped", "the stale answer was dropped by epoch");
	/* and without the race the same fixture is reported */
	fh_calls_clear();
	push_event("event_start.json", ID_R, "racer");
	ok(fh_wait_calls(base, "set 555555555555 n=1", 2000), "the racer fixture itself is valid");

	/* core asks for a resync */
	fh_calls_clear();
	rc = p->resync(P.state);
	is_int(rc, 0, "resync callback");
	like(fh.calls, "begin\n", "resync callback: begin");
	like(fh.calls, "set aaaaaaaaaaaa n=2", "resync callback: web");
	like(fh.calls, "set cccccccccccc n=1", "resync callback: hostile's good binding");
	like(fh.calls, "commit\n", "resync callback: commit");

	/* dockerd restarts: reconnect with backoff, resync in full */
	fh_calls_clear();
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
	ok(fh_wait_log(base, "reconnecting to", 2000), "stream loss noticed");
	fh_run_for(base, 700);           /* a few failed attempts while nothing listens */
	ok(fh_wait_log(base, "Connection refused", 100) || strstr(fh.log, "No such file"), "connect failures while dockerd is down");
	ok(server_start() == 0, "fake dockerd back");
	{
		int before = fh.commits;

		ok(fh_wait_int(base, &fh.commits, before + 1, 12000), "resync after dockerd came back");
	}
	is_int(events_conns, 2, "one new event stream");
	like(fh.calls, "begin\n", "restart resync: begin");
	like(fh.calls, "set bbbbbbbbbbbb n=3", "restart resync: mixed still running");
	ok(!strstr(fh.calls, "set aaaaaaaaaaaa") && !strstr(fh.calls, "set cccccccccccc") && !strstr(fh.calls, "set 555555555555"),
	   "containers absent from the new list are not set (the commit removes them)");
	like(fh.log, "connected to dockerd at", "reconnect logged");
	ok(!strstr(fh.calls, "!INVALID"), "no invalid mapping reported");

	fh_down(&P);
	server_drop_all(1);
	fh_run_for(base, 50);
	fh_close(&P);
	fh_base_free(base);
	return done_testing();
}
