/* cmd_watch.c - brokerctl watch: print the broker's event feed (NNG SUB) as it arrives. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>

#include "broker/display.h"
#include "ctl/brokerctl.h"
#include "rpc/event_pub.h"
#include "rpc/runtime_dir.h"

/* How often the receive loop looks at signals and the --timeout clock. */
#define TICK_MS 100
#define EVENT_MAX_BYTES (1024 * 1024)

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int64_t now_ms(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void print_event(const struct opts *o, const char *topic, const Broker__Control__Event *ev)
{
	const char *kind = ev->kind[0] ? ev->kind : topic;
	int64_t ms = ev->time_ms > 0 ? ev->time_ms : now_ms(CLOCK_REALTIME);
	char when[64];

	/* The log's own format, so a watch line and a log line compare at a glance. */
	display_time(when, sizeof(when), ms);
	if (o->json) {
		json_t *j = json_pack("{s:I, s:s, s:s, s:s}", "time_ms", (json_int_t)ms, "time", when, "kind", kind,
		                      "text", ev->text);
		char *s;

		if (j && ev->mapping)
			json_object_set_new(j, "mapping", mapping_json(ev->mapping));
		s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		if (s)
			puts(s);
		free(s);
		json_decref(j);
	} else {
		/* The broker's text already names everything once (short ids; --json has them whole).
		 * It quotes the peer (ids, names, states): the line is printed escaped. */
		char line[4096];

		snprintf(line, sizeof(line), "%s %s%s%s", when, kind, ev->text[0] ? " " : "", ev->text);
		print_line(line);
	}
	fflush(stdout);
}

/* A message is KIND, NUL, packed Event; false when it is not. */
static bool handle_message(const struct opts *o, const uint8_t *buf, size_t len)
{
	const uint8_t *nul = memchr(buf, '\0', len);
	Broker__Control__Event *ev;

	if (!nul)
		return false;
	ev = broker__control__event__unpack(NULL, len - (size_t)(nul + 1 - buf), nul + 1);
	if (!ev)
		return false;
	print_event(o, (const char *)buf, ev);
	broker__control__event__free_unpacked(ev, NULL);
	return true;
}

static int dial_error(int rv, const char *path)
{
	switch (rv) {
	case NNG_ENOENT:
		return die(1, "broker not running: no event socket at %s", path);
	case NNG_ECONNREFUSED:
		return die(1, "broker not running at %s (stale socket)", path);
	case NNG_EPERM:
		return die(1, "permission denied on %s (run as the broker's user or root)", path);
	default:
		return die(1, "cannot connect to %s: %s", path, nng_strerror(rv));
	}
}

static int open_feed(const struct opts *o, const char *const *topics, int ntopics, nng_socket *sock)
{
	char *dir = session_runtime_dir(o);
	char *url = NULL, *path = NULL;
	bool bad_form;
	int rv, rc = 0;

	/* runtime_dir.c has the rule (event_pub.c is the daemon's; brokerctl links none of it). */
	url = dir ? runtime_dir_events_url(dir) : NULL;
	path = url ? ipc_url_local_name(url, &bad_form) : NULL;
	if (url && !path && bad_form)
		path = strdup(url + 6);
	free(dir);
	if (!url || !path) {
		free(url);
		return die(1, "out of memory");
	}
	/* Say "not running" precisely instead of NNG's generic "entry not found". */
	if ((rc = ipc_local_name_check(path)) < 0) {
		if (rc == -ENOENT)
			rc = die(1, "broker not running: no event socket at %s", path);
		else if (rc == -EACCES)
			rc = die(1, "permission denied on %s (run as the broker's user or root)", path);
		else
			rc = die(1, "%s: %s", path, strerror(-rc));
		free(url);
		free(path);
		return rc;
	}
	{
		char why[512];
		if (ipc_local_owner_check(path, why, sizeof(why)) < 0) {
			free(url);
			free(path);
			return die(1, "%s", why);
		}
	}
	if ((rv = nng_sub0_open(sock)) != 0) {
		free(url);
		free(path);
		return die(1, "cannot open an event socket: %s", nng_strerror(rv));
	}
	rv = nng_socket_set_ms(*sock, NNG_OPT_RECVTIMEO, TICK_MS);
	if (rv == 0)
		rv = nng_socket_set_size(*sock, NNG_OPT_RECVMAXSZ, EVENT_MAX_BYTES);
	for (int i = 0; rv == 0 && i < ntopics; i++)
		rv = nng_socket_set(*sock, NNG_OPT_SUB_SUBSCRIBE, topics[i], strlen(topics[i]));
	if (rv == 0 && ntopics == 0)
		rv = nng_socket_set(*sock, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	if (rv != 0) {
		rc = die(1, "cannot configure the event socket: %s", nng_strerror(rv));
	} else if ((rv = nng_dial(*sock, url, NULL, 0)) != 0) {
		/* Once connected, NNG redials by itself if the broker restarts. */
		if (rv == NNG_ECONNREFUSED && ipc_refused_means_absent())
			rv = NNG_ENOENT;
		rc = dial_error(rv, path);
	}
	free(url);
	free(path);
	if (rc)
		nng_close(*sock);
	return rc;
}

int cmd_watch(const struct opts *o, const char *const *topics, int ntopics)
{
	nng_socket sock;
	int64_t last;
	long seen = 0;
	int rc;

	/* Handlers first: a signal while the feed is still being dialed must not kill us. */
	ctl_catch_stop_signals(on_signal);
	if ((rc = open_feed(o, topics, ntopics, &sock)))
		return rc;
	if (stop_signal) {
		nng_close(sock);
		return 0;
	}

	last = now_ms(CLOCK_MONOTONIC);
	while (!stop_signal) {
		uint8_t *buf = NULL;
		size_t len = 0;
		int rv;

		if (o->timeout_given && now_ms(CLOCK_MONOTONIC) - last >= o->timeout_ms) {
			if (o->timeout_ms % 1000 == 0)
				rc = die(1, "no event within %d s", o->timeout_ms / 1000);
			else
				rc = die(1, "no event within %.1f s", o->timeout_ms / 1000.0);
			break;
		}
		rv = nng_recv(sock, &buf, &len, NNG_FLAG_ALLOC);
		if (rv == NNG_ETIMEDOUT || rv == NNG_EINTR)
			continue;
		if (rv != 0) {
			rc = die(1, "event feed: %s", nng_strerror(rv));
			break;
		}
		if (!handle_message(o, buf, len))
			fprintf(stderr, "brokerctl: skipped an event this brokerctl cannot read (version mismatch?)\n");
		nng_free(buf, len);
		last = now_ms(CLOCK_MONOTONIC);
		if (o->count > 0 && ++seen >= o->count)
			break;
	}
	nng_close(sock);
	return rc;
}
