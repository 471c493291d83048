/*
 * tests/unit/watchers_host.h - a fake core for the watcher plugin unit tests
 * (test_procnet, test_iptables): loads a plugin with dlopen, gives it a host
 * table whose mapping calls are recorded, and runs the loop.
 *
 * The record: for each owner, the text of its current mappings
 * ("tcp 0.0.0.0:8080 -> 127.0.0.1:8080" lines joined with "; "), plus
 * counters of set/remove/resync calls.  Options come from opt_set().
 */
#ifndef BROKER_TESTS_WATCHERS_HOST_H
#define BROKER_TESTS_WATCHERS_HOST_H

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "broker/plugin.h"
#include "tests/unit/tap.h"

struct broker_plugin_handle {
	const struct broker_plugin *p;
	struct event_base *base;
};

struct broker_timer {
	struct event *ev;
	broker_timer_fn fn;
	void *arg;
	struct broker_timer *next;  /* every live timer, freed at unload like the core does */
};

static struct broker_timer *wh_timers;

#define WH_OWNERS 256
struct wh_owner {
	char owner[200];
	char text[1024];
	char desc[256];
};

static struct {
	struct wh_owner o[WH_OWNERS];
	int n;
	int sets, removes, begins, commits, refused;
	int in_resync;
	char resync_seen[WH_OWNERS][200];
	int nresync_seen;
} wh;

static char wh_log[1 << 17];
static size_t wh_loglen;
static const char *wh_opts[16];  /* "name=value" */

static void wh_reset(void)
{
	memset(&wh, 0, sizeof(wh));
	wh_loglen = 0;
	wh_log[0] = '\0';
}

static void opt_set(const char *const *opts)
{
	size_t i;

	memset(wh_opts, 0, sizeof(wh_opts));
	for (i = 0; opts && opts[i] && i < sizeof(wh_opts) / sizeof(wh_opts[0]); i++)
		wh_opts[i] = opts[i];
}

static void f_vlog(struct broker_plugin_handle *h, enum broker_log_level level, const char *fmt,
                   va_list ap)
{
	char line[1200];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (getenv("WH_VERBOSE") || level <= BROKER_LOG_WARN)
		fprintf(stderr, "# [%s] L%d: %s\n", h->p->name, (int)level, line);
	if (wh_loglen + strlen(line) + 2 < sizeof(wh_log))
		wh_loglen += (size_t)snprintf(wh_log + wh_loglen, sizeof(wh_log) - wh_loglen, "%s\n", line);
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
	size_t i, n = strlen(name);

	for (i = 0; i < sizeof(wh_opts) / sizeof(wh_opts[0]); i++)
		if (wh_opts[i] && strncmp(wh_opts[i], name, n) == 0 && wh_opts[i][n] == '=')
			return wh_opts[i] + n + 1;
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

	return s && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0);
}

static void wh_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct broker_timer *t = arg;

	(void)fd;
	(void)what;
	t->fn(t->arg);
}

static struct broker_timer *f_timer_new(struct broker_plugin_handle *h, broker_timer_fn fn, void *arg)
{
	struct broker_timer *t = calloc(1, sizeof(*t));

	t->fn = fn;
	t->arg = arg;
	t->ev = evtimer_new(h->base, wh_timer_cb, t);
	t->next = wh_timers;
	wh_timers = t;
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

	for (pp = &wh_timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	event_free(t->ev);
	free(t);
}

/* The core's order at stop: release the plugin's timers, then call stop. */
static void wh_release_timers(void)
{
	while (wh_timers)
		f_timer_free(wh_timers);
}

static struct wh_owner *wh_find(const char *owner)
{
	int i;

	for (i = 0; i < wh.n; i++)
		if (strcmp(wh.o[i].owner, owner) == 0)
			return &wh.o[i];
	return NULL;
}

static void wh_drop(const char *owner)
{
	struct wh_owner *o = wh_find(owner);

	if (o) {
		*o = wh.o[wh.n - 1];
		wh.n--;
	}
}

static int f_mapping_set(struct broker_plugin_handle *h, const char *owner, const char *desc,
                         const struct broker_mapping *m, size_t n)
{
	struct wh_owner *o;
	size_t i, j, len = 0;
	char text[1024] = "";

	(void)h;
	wh.sets++;
	if (wh.in_resync && wh.nresync_seen < WH_OWNERS)
		snprintf(wh.resync_seen[wh.nresync_seen++], sizeof(wh.resync_seen[0]), "%s", owner);
	for (i = 0; i < n; i++) {
		if (m[i].host_port == 0 || m[i].nconnect == 0) {
			wh.refused++;
			return -EINVAL;
		}
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s %s:%u ->", i ? "; " : "",
		                        m[i].proto == BROKER_PROTO_UDP ? "udp" : "tcp",
		                        m[i].host_ip ? m[i].host_ip : "", (unsigned)m[i].host_port);
		if (len >= sizeof(text))
			len = sizeof(text) - 1;
		for (j = 0; j < m[i].nconnect; j++) {
			len += (size_t)snprintf(text + len, sizeof(text) - len, " %s", m[i].connect[j]);
			if (len >= sizeof(text))
				len = sizeof(text) - 1;
		}
	}
	if (n == 0) {
		wh_drop(owner);
		return 0;
	}
	o = wh_find(owner);
	if (!o) {
		if (wh.n == WH_OWNERS)
			return -ENOSPC;
		o = &wh.o[wh.n++];
		snprintf(o->owner, sizeof(o->owner), "%s", owner);
	}
	snprintf(o->text, sizeof(o->text), "%s", text);
	snprintf(o->desc, sizeof(o->desc), "%s", desc ? desc : "");
	return 0;
}

static int f_mapping_remove(struct broker_plugin_handle *h, const char *owner)
{
	(void)h;
	wh.removes++;
	wh_drop(owner);
	return 0;
}

static int f_resync_begin(struct broker_plugin_handle *h)
{
	(void)h;
	wh.begins++;
	wh.in_resync = 1;
	wh.nresync_seen = 0;
	return 0;
}

static int f_resync_commit(struct broker_plugin_handle *h)
{
	int i, k, keep;

	(void)h;
	wh.commits++;
	wh.in_resync = 0;
	/* owners not set between begin and commit are removed */
	for (i = 0; i < wh.n;) {
		keep = 0;
		for (k = 0; k < wh.nresync_seen; k++)
			if (strcmp(wh.resync_seen[k], wh.o[i].owner) == 0)
				keep = 1;
		if (keep)
			i++;
		else
			wh.o[i] = wh.o[--wh.n];
	}
	return 0;
}

static const struct broker_host wh_host = {
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

/* ------------------------------------------------------------- plugin */

struct wh_loaded {
	void *dl;
	const struct broker_plugin *p;
	struct broker_plugin_handle h;
	void *state;
	int started;
};

static void *wh_dl;
static const struct broker_plugin *wh_desc;

/* dlopen once; 0 or -1. */
static int wh_open(const char *path)
{
	broker_plugin_entry_fn entry;

	wh_dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!wh_dl) {
		diag("dlopen %s: %s", path, dlerror());
		return -1;
	}
	*(void **)&entry = dlsym(wh_dl, BROKER_PLUGIN_ENTRY);
	if (!entry)
		return -1;
	wh_desc = entry(&wh_host);
	return wh_desc ? 0 : -1;
}

/* init (+ start) with the options given.  Returns init's/start's result; err gets the reason. */
static int wh_load(struct wh_loaded *L, struct event_base *base, const char *const *opts,
                   char *err, size_t errlen)
{
	int r;

	memset(L, 0, sizeof(*L));
	wh_reset();
	opt_set(opts);
	L->p = wh_desc;
	L->h.p = wh_desc;
	L->h.base = base;
	err[0] = '\0';
	r = L->p->init(&L->h, &L->state, err, errlen);
	if (r < 0)
		return r;
	r = L->p->start(L->state, err, errlen);
	if (r < 0) {
		L->p->fini(L->state);
		L->state = NULL;
		return r;
	}
	L->started = 1;
	return 0;
}

static inline void wh_unload(struct wh_loaded *L)
{
	if (L->state) {
		wh_release_timers();
		L->p->stop(L->state);
		L->p->fini(L->state);
	}
	memset(L, 0, sizeof(*L));
}

static long long wh_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void wh_run_for(struct event_base *base, int ms)
{
	long long end = wh_now_ms() + ms;

	while (wh_now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
}

/* The recorded text of owner, or NULL. */
static inline const char *wh_text(const char *owner)
{
	struct wh_owner *o = wh_find(owner);

	return o ? o->text : NULL;
}

/* Run until owner is present (want=1) or absent (want=0), at most ms.  1 if reached. */
static inline int wh_wait_owner(struct event_base *base, const char *owner, int want, int ms)
{
	long long end = wh_now_ms() + ms;

	while ((wh_find(owner) != NULL) != want && wh_now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	return (wh_find(owner) != NULL) == want;
}

/* Run until the log contains needle, at most ms. */
static inline int wh_wait_log(struct event_base *base, const char *needle, int ms)
{
	long long end = wh_now_ms() + ms;

	while (!strstr(wh_log, needle) && wh_now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	return strstr(wh_log, needle) != NULL;
}

static void wh_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static const char *wh_plugin_path(int argc, char **argv, const char *env, const char *name,
                                  char *buf, size_t len)
{
	const char *top = getenv("top_builddir");

	if (argc > 1)
		return argv[1];
	if (getenv(env))
		return getenv(env);
	snprintf(buf, len, "%s/plugins/%s/.libs/%s.so", top ? top : ".", name, name);
	return buf;
}

#endif
