/*
 * tests/windows/plugin_probe.c - load one endpoint plugin DLL the way the
 * core does (LoadLibrary + broker_plugin_entry, a host table) and try one
 * listen or connect, for tests of plugins whose features may be missing
 * where the test runs (hvsock under wine).
 *
 *   plugin_probe DLL listen URL     "listen ok: DESCRIBE" or "listen error: REASON"
 *   plugin_probe DLL connect URL    "connect ok: PEER" or "connect error: REASON"
 *
 * Only a tiny URL splitter (scheme:[//]address[?key=value], one parameter).
 * Exit 0 ok, 1 error, 2 usage.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>
#include <windows.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "broker/plugin.h"

static struct event_base *base;
static int result = -1;
static char message[512];

static void hlog(struct broker_plugin_handle *h, enum broker_log_level lv, const char *fmt, ...)
{
	va_list ap;

	(void)h;
	va_start(ap, fmt);
	fprintf(stderr, "[%d] ", (int)lv);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static struct event_base *hbase(struct broker_plugin_handle *h) { (void)h; return base; }
static const struct broker_plugin *pl;

/* An option's declared default (the core's answer when nothing is configured). */
static const char *option_default(const char *n)
{
	for (const struct broker_option *o = pl && pl->options ? pl->options : NULL; o && o->name; o++)
		if (strcmp(o->name, n) == 0)
			return o->default_value;
	return NULL;
}
static long long oint(struct broker_plugin_handle *h, const char *n)
{
	const char *d = option_default(n);

	(void)h;
	return d ? atoll(d) : 3000;
}
static const char *ostr(struct broker_plugin_handle *h, const char *n) { (void)h; return option_default(n); }
static int obool(struct broker_plugin_handle *h, const char *n) { (void)h; (void)n; return 0; }
static char qkey[64], qval[256];
static const char *uparam(const struct broker_url *u, const char *k)
{
	(void)u;
	return qkey[0] && strcmp(k, qkey) == 0 ? qval : NULL;
}

struct post { broker_post_fn fn; void *arg; };
static void post_run(evutil_socket_t fd, short w, void *a)
{
	struct post *p = a;

	(void)fd;
	(void)w;
	p->fn(p->arg);
	free(p);
}
static int hpost(struct broker_plugin_handle *h, broker_post_fn fn, void *arg)
{
	struct post *p = malloc(sizeof(*p));
	struct timeval tv = { 0, 0 };

	(void)h;
	p->fn = fn;
	p->arg = arg;
	return event_base_once(base, -1, EV_TIMEOUT, post_run, p, &tv);
}
static void haccepted(struct broker_accept_sink *s, const struct broker_stream_desc *d) { (void)s; evutil_closesocket((evutil_socket_t)d->rfd); }
static void hconnected(struct broker_connect_req *r, const struct broker_stream_desc *d)
{
	(void)r;
	snprintf(message, sizeof(message), "%s", d->peer ? d->peer : "");
	evutil_closesocket((evutil_socket_t)d->rfd);
	result = 0;
	event_base_loopbreak(base);
}
static void hfailed(struct broker_connect_req *r, int e, const char *why)
{
	(void)r;
	(void)e;
	snprintf(message, sizeof(message), "%s", why);
	result = 1;
	event_base_loopbreak(base);
}

static struct broker_host H = {
	.struct_size = sizeof(struct broker_host), .abi_major = BROKER_ABI_MAJOR, .abi_minor = BROKER_ABI_MINOR,
	.log = hlog, .event_base = hbase, .option_string = ostr, .option_int = oint, .option_bool = obool,
	.url_param = uparam, .post = hpost, .accepted = haccepted, .connected = hconnected,
	.connect_failed = hfailed,
};

int main(int argc, char **argv)
{
	WSADATA wsa;
	HMODULE dll;
	broker_plugin_entry_fn entry;
	struct broker_url u;
	char scheme[32], err[512];
	const char *colon, *addr, *q;
	char address[512];
	void *st = NULL, *obj = NULL;
	int r;

	if (argc != 4 || (strcmp(argv[2], "listen") && strcmp(argv[2], "connect"))) {
		fputs("usage: plugin_probe DLL listen|connect URL\n", stderr);
		return 2;
	}
	WSAStartup(MAKEWORD(2, 2), &wsa);
	evthread_use_windows_threads();
	base = event_base_new();
	dll = LoadLibraryA(argv[1]);
	if (!dll || !(entry = (broker_plugin_entry_fn)(void *)GetProcAddress(dll, BROKER_PLUGIN_ENTRY))) {
		printf("load error: %s: error %lu\n", argv[1], GetLastError());
		return 1;
	}
	pl = entry(&H);
	colon = strchr(argv[3], ':');
	if (!colon || (size_t)(colon - argv[3]) >= sizeof(scheme)) {
		fputs("bad URL\n", stderr);
		return 2;
	}
	memcpy(scheme, argv[3], (size_t)(colon - argv[3]));
	scheme[colon - argv[3]] = '\0';
	addr = colon + 1;
	if (addr[0] == '/' && addr[1] == '/')
		addr += 2;
	q = strchr(addr, '?');
	if (q) {
		const char *eq = strchr(q, '=');
		if (!eq || (size_t)(eq - q - 1) >= sizeof(qkey) || (size_t)(q - addr) >= sizeof(address)) {
			fputs("bad query (one ?key=value)\n", stderr);
			return 2;
		}
		memcpy(qkey, q + 1, (size_t)(eq - q - 1));
		snprintf(qval, sizeof(qval), "%s", eq + 1);
		memcpy(address, addr, (size_t)(q - addr));
		address[q - addr] = '\0';
		addr = address;
	}
	memset(&u, 0, sizeof(u));
	u.text = argv[3];
	u.scheme = scheme;
	u.address = addr;
	if (pl->init && pl->init(NULL, &st, err, sizeof(err)) < 0) {
		printf("init error: %s\n", err);
		return 1;
	}
	if (strcmp(argv[2], "listen") == 0) {
		r = pl->listen(st, &u, NULL, &obj, err, sizeof(err));
		if (r < 0) {
			printf("listen error: %s\n", err);
			return 1;
		}
		if (pl->describe && pl->describe(st, obj, err, sizeof(err)) == 0)
			printf("listen ok: %s\n", err);
		else
			printf("listen ok\n");
		pl->unlisten(st, obj);
		return 0;
	}
	r = pl->connect(st, &u, NULL, &obj, err, sizeof(err));
	if (r < 0) {
		printf("connect error: %s\n", err);
		return 1;
	}
	event_base_dispatch(base);
	printf("connect %s: %s\n", result == 0 ? "ok" : "error", message);
	return result == 0 ? 0 : 1;
}
