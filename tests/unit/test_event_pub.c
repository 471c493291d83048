/* test_event_pub.c - the event feed (NNG PUB) against a real SUB socket (TAP). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>

#include "rpc/event_pub.h"
#include "rpc/ipc_watchdog.h"

/* NNG 1.5.2 orphans a pipe in the mid-handshake case; ignore leaks inside libnng only. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libnng.so\n";
}

/* Results this test gives (its TAP plan). */
#define N_PLANNED 16

static int n_run, n_failed;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
	va_list ap;

	n_run++;
	if (!cond)
		n_failed++;
	printf("%sok %d - ", cond ? "" : "not ", n_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void send_event(struct event_pub *p, const char *kind, const char *text)
{
	Broker__Control__Event ev = BROKER__CONTROL__EVENT__INIT;
	Broker__Control__MappingInfo m = BROKER__CONTROL__MAPPING_INFO__INIT;
	char *connect[] = { "127.0.0.1:80" };

	ev.time_ms = 1234;
	ev.kind = (char *)kind;
	ev.text = (char *)text;
	if (strncmp(kind, "mapping.", 8) == 0) {
		m.source = "manual";
		m.owner = "tcp-18080";
		m.proto = "tcp";
		m.host_port = 18080;
		m.n_connect = 1;
		m.connect = connect;
		m.state = "exported";
		ev.mapping = &m;
	}
	event_pub_publish(p, &ev);
}

/* Receive one message within timeout_ms: its topic (malloc'd) and event, or NULL. */
static char *recv_event(nng_socket s, Broker__Control__Event **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	const uint8_t *nul;
	char *topic = NULL;

	*out = NULL;
	if (nng_recv(s, &buf, &len, NNG_FLAG_ALLOC) != 0)
		return NULL;
	nul = memchr(buf, '\0', len);
	if (nul) {
		topic = strdup((const char *)buf);
		*out = broker__control__event__unpack(NULL, len - (size_t)(nul + 1 - buf), nul + 1);
	}
	nng_free(buf, len);
	return topic;
}

static int open_sub(const char *url, const char *topic, nng_socket *s)
{
	int rv = nng_sub0_open(s);

	if (rv == 0)
		rv = nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, 200);
	if (rv == 0)
		rv = nng_socket_set(*s, NNG_OPT_SUB_SUBSCRIBE, topic, strlen(topic));
	if (rv == 0)
		rv = nng_dial(*s, url, NULL, 0);
	return rv;
}

/* Publish "mapping.add" until the subscriber has it (a new pipe takes a moment to attach). */
static char *first_mapping_event(struct event_pub *p, nng_socket s, Broker__Control__Event **ev)
{
	for (int i = 0; i < 25; i++) {
		char *topic;

		send_event(p, "mapping.add", "first");
		if ((topic = recv_event(s, ev)))
			return topic;
	}
	return NULL;
}

/*
 * The test's own subscribers are closed with the broker's bounded close:
 * NNG 1.5.2 can block for good in nng_close on a socket whose pipe is
 * still negotiating (the bug rpc/ipc_watchdog.c bounds for the broker),
 * which hung this test at exit about once in a few dozen runs.  NNG is not
 * finalized after a close that gave up (its thread still holds NNG).
 */
static bool close_stuck;
static void close_sub(nng_socket sock)
{
	if (!ipc_close_bounded(sock, 5000, "test", "subscriber"))
		close_stuck = true;
}

static void test_feed(const char *dir)
{
	char path[100], url[120], err[256];
	struct event_pub *p = NULL, *p2 = NULL;
	Broker__Control__Event *ev = NULL;
	nng_socket s;
	struct stat st;
	char *topic, *u;
	int rc, rv;

	snprintf(path, sizeof(path), "%s/%s", dir, EVENT_PUB_SOCKET);
	snprintf(url, sizeof(url), "ipc://%s", path);
	u = event_pub_url(dir);
	ok(u && strcmp(u, url) == 0, "event_pub_url: %s", u ? u : "(null)");
	free(u);

	rc = event_pub_start("tcp://127.0.0.1:1", &p, err, sizeof(err));
	ok(rc == -EINVAL && p == NULL, "a non-ipc URL is refused: %s", err);

	/* A stale socket file (bound, nobody listening) is removed at start. */
	{
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
		close(fd);
		ok(rc == 0 && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode), "made a stale socket file");
	}
	rc = event_pub_start(url, &p, err, sizeof(err));
	ok(rc == 0 && p, "start over a stale socket file %s", rc ? err : "");
	if (!p)
		return;
	rc = lstat(path, &st);
	ok(rc == 0 && (st.st_mode & 0777) == 0600, "socket mode is 0600 (%o)", rc == 0 ? st.st_mode & 0777 : 0);

	rc = event_pub_start(url, &p2, err, sizeof(err));
	ok(rc == -EADDRINUSE && !p2, "a second publisher on a live socket is refused: %s", err);

	rv = open_sub(url, "mapping.", &s);
	ok(rv == 0, "SUB dials and subscribes to 'mapping.' (%s)", rv ? nng_strerror(rv) : "ok");
	if (rv != 0) {
		event_pub_stop(p);
		return;
	}
	topic = first_mapping_event(p, s, &ev);
	ok(topic && strcmp(topic, "mapping.add") == 0, "received topic %s", topic ? topic : "(none)");
	ok(ev && strcmp(ev->kind, "mapping.add") == 0 && ev->time_ms == 1234 && ev->mapping &&
	       strcmp(ev->mapping->owner, "tcp-18080") == 0 && ev->mapping->host_port == 18080 &&
	       ev->mapping->n_connect == 1 && strcmp(ev->mapping->connect[0], "127.0.0.1:80") == 0,
	   "body is the packed Event after the NUL");
	free(topic);
	if (ev)
		broker__control__event__free_unpacked(ev, NULL);
	/* Drain repeats of the first event. */
	while ((topic = recv_event(s, &ev))) {
		free(topic);
		if (ev)
			broker__control__event__free_unpacked(ev, NULL);
	}

	/* Order is kept per subscriber: if link.up got through it would come first. */
	send_event(p, "link.up", "not for us");
	send_event(p, "mapping.remove", "second");
	topic = recv_event(s, &ev);
	ok(topic && strcmp(topic, "mapping.remove") == 0 && ev && strcmp(ev->text, "second") == 0,
	   "'link.up' is filtered out, 'mapping.remove' arrives (%s)", topic ? topic : "(none)");
	free(topic);
	if (ev)
		broker__control__event__free_unpacked(ev, NULL);
	topic = recv_event(s, &ev);
	ok(!topic, "nothing else arrives");
	free(topic);

	/* A raw send too: KIND + NUL + body exactly as given. */
	event_pub_send(p, "mapping.raw", (const uint8_t *)"", 0);
	topic = recv_event(s, &ev);
	ok(topic && strcmp(topic, "mapping.raw") == 0, "event_pub_send with an empty body");
	free(topic);
	if (ev)
		broker__control__event__free_unpacked(ev, NULL);
	ok(event_pub_sent(p) >= 4 && event_pub_dropped(p) == 0, "counters: %llu sent, %llu dropped",
	   (unsigned long long)event_pub_sent(p), (unsigned long long)event_pub_dropped(p));

	/* connect()+close() before the handshake wedges NNG 1.5.2's listener; the watchdog heals it. */
	{
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		nng_socket s2;
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
			printf("# connect: %s\n", strerror(errno));
		close(fd);
		/* The watchdog ticks once a second; on a loaded machine the heal
		 * may take a few: try a fresh subscriber for up to 15 s. */
		ev = NULL;
		topic = NULL;
		for (int t = 0; t < 6 && !topic; t++) {
			usleep(2500 * 1000);   /* two watchdog ticks */
			rv = open_sub(url, "mapping.", &s2);
			topic = rv == 0 ? first_mapping_event(p, s2, &ev) : NULL;
			if (!topic && rv == 0)
				close_sub(s2);
		}
		ok(topic != NULL, "a new subscriber is served after a peer closed mid-handshake (%llu restarts)",
		   (unsigned long long)event_pub_listener_restarts(p));
		if (topic)
			close_sub(s2);
		free(topic);
		if (ev)
			broker__control__event__free_unpacked(ev, NULL);
	}

	close_sub(s);
	event_pub_stop(p);
	ok(lstat(path, &st) < 0 && errno == ENOENT, "stop removes the socket file");
	event_pub_send(NULL, "mapping.add", NULL, 0);
	event_pub_stop(NULL);
	ok(1, "NULL publisher is a no-op");
}

int main(void)
{
	char tmpl[] = "/tmp/test_event_pub.XXXXXX";
	char *dir = mkdtemp(tmpl);

	/* The plan comes first, so a run cut short fails (tests/README.md). */
	printf("1..%d\n", N_PLANNED);
	if (!dir) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_feed(dir);
	rmdir(dir);
	/* The test owns the process, so it (not event_pub_stop) may finalize NNG. */
	if (close_stuck)
		printf("# a subscriber's nng_close is stuck in NNG 1.5: NNG is not finalized\n");
	else
		nng_fini();
	if (n_run != N_PLANNED)
		printf("# planned %d tests but ran %d\n", N_PLANNED, n_run);
	return n_failed || n_run != N_PLANNED ? 1 : 0;
}
