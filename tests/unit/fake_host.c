/*
 * tests/unit/fake_host.c - the fake core of the plugin unit tests; see
 * fake_host.h.
 */
#include <config.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "tests/unit/fake_host.h"

struct fh_record fh;
int fh_echo_level = BROKER_LOG_TRACE;

static void fh_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fh_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* Plugins hold a struct fh_plugin as their opaque handle. */
static struct fh_plugin *plug(struct broker_plugin_handle *h)
{
	return (struct fh_plugin *)(void *)h;
}

/* ------------------------------------------------------------- log */

static void f_vlog(struct broker_plugin_handle *h, enum broker_log_level level, const char *fmt,
                   va_list ap)
{
	char line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (level <= BROKER_LOG_WARN)
		fh.warnings++;
	if ((int)level <= fh_echo_level || getenv("FH_VERBOSE"))
		fprintf(stderr, "# [%s] L%d: %s\n", plug(h)->p->name, (int)level, line);
	if (fh.loglen + strlen(line) + 2 < sizeof(fh.log))
		fh.loglen += (size_t)snprintf(fh.log + fh.loglen, sizeof(fh.log) - fh.loglen, "%s\n", line);
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
	return plug(h)->base;
}

/* ------------------------------------------------------------- options */

static const char *f_option_string(struct broker_plugin_handle *h, const char *name)
{
	struct fh_plugin *P = plug(h);
	const struct broker_option *o;
	size_t i, n = strlen(name);

	for (i = 0; i < FH_MAX_OPTS; i++)
		if (strncmp(P->opt[i], name, n) == 0 && P->opt[i][n] == '=')
			return P->opt[i] + n + 1;
	for (o = P->p->options; o && o->type != BROKER_OPT_END; o++)
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

static const char *f_url_param(const struct broker_url *url, const char *key)
{
	size_t i;

	for (i = 0; i < url->nparams; i++)
		if (strcmp(url->params[i].key, key) == 0)
			return url->params[i].value;
	return NULL;
}

void fh_option(struct fh_plugin *P, const char *name, const char *value)
{
	size_t i, n = strlen(name), slot = FH_MAX_OPTS;

	for (i = 0; i < FH_MAX_OPTS; i++) {
		if (strncmp(P->opt[i], name, n) == 0 && P->opt[i][n] == '=')
			P->opt[i][0] = '\0';
		if (!P->opt[i][0] && slot == FH_MAX_OPTS)
			slot = i;
	}
	if (value && slot < FH_MAX_OPTS)
		snprintf(P->opt[slot], sizeof(P->opt[slot]), "%s=%s", name, value);
	else if (value)
		fh_diag("fake host: no room for option %s", name);
}

/* ------------------------------------------------------------- timers */

struct broker_timer {
	struct broker_timer *next;  /* every live timer, released before stop */
	struct event *ev;
	broker_timer_fn fn;
	void *arg;
};

static struct broker_timer *timers;

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct broker_timer *t = arg;

	(void)fd;
	(void)what;
	t->fn(t->arg);
}

static struct broker_timer *f_timer_new(struct broker_plugin_handle *h, broker_timer_fn fn, void *arg)
{
	struct broker_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->fn = fn;
	t->arg = arg;
	t->ev = evtimer_new(plug(h)->base, timer_cb, t);
	t->next = timers;
	timers = t;
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

	for (pp = &timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	event_free(t->ev);
	free(t);
}

static int f_post(struct broker_plugin_handle *h, broker_post_fn fn, void *arg)
{
	(void)h;
	(void)fn;
	(void)arg;
	return -ENOSYS;
}

/* ------------------------------------------------------------- streams */

static void f_accepted(struct broker_accept_sink *sink, const struct broker_stream_desc *desc)
{
	if (sink->n >= FH_MAX_ACCEPT) {
		close(desc->rfd);
		return;
	}
	sink->fds[sink->n] = desc->rfd;
	snprintf(sink->peer[sink->n], sizeof(sink->peer[0]), "%s", desc->peer ? desc->peer : "");
	sink->flags = desc->flags;
	sink->n++;
}

static void f_connected(struct broker_connect_req *req, const struct broker_stream_desc *desc)
{
	req->calls++;
	req->ok = 1;
	req->rfd = desc->rfd;
	req->wfd = desc->wfd;
	req->flags = desc->flags;
	req->on_close = desc->on_close;
	req->close_arg = desc->close_arg;
	snprintf(req->peer, sizeof(req->peer), "%s", desc->peer ? desc->peer : "");
}

static void f_connect_failed(struct broker_connect_req *req, int error, const char *reason)
{
	req->calls++;
	req->ok = 0;
	req->error = error;
	snprintf(req->reason, sizeof(req->reason), "%s", reason ? reason : "");
}

void fh_sink_close(struct broker_accept_sink *sink)
{
	int i;

	for (i = 0; i < sink->n; i++)
		close(sink->fds[i]);
	memset(sink, 0, sizeof(*sink));
}

/* ------------------------------------------------------------- mappings */

/* How one rendering of a mapping list spells its parts. */
struct map_style {
	const char *pre, *sep, *proto_sep, *arrow, *addr_sep, *post;
};

static const struct map_style style_text = { "", "; ", " ", " -> ", " ", "" };
static const struct map_style style_spec = { "", "", ":", ">", ",", ";" };
static const struct map_style style_call = { " ", "", " ", ">", "|", "" };

static int map_valid(const struct broker_mapping *m)
{
	return m->host_port != 0 && m->nconnect != 0;
}

static void render(char *buf, size_t len, const struct broker_mapping *m, size_t n,
                   const struct map_style *s, int mark_invalid)
{
	size_t i, j, off = 0;

#define PUT(...)                                                                  \
	do {                                                                          \
		if (off < len)                                                            \
			off += (size_t)snprintf(buf + off, len - off, __VA_ARGS__);           \
		if (off >= len)                                                           \
			off = len - 1;                                                        \
	} while (0)
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		PUT("%s%s%s%s%s:%u%s", i ? s->sep : "", s->pre,
		    m[i].proto == BROKER_PROTO_UDP ? "udp" : "tcp", s->proto_sep,
		    m[i].host_ip ? m[i].host_ip : "", (unsigned)m[i].host_port, s->arrow);
		for (j = 0; j < m[i].nconnect; j++)
			PUT("%s%s", j ? s->addr_sep : "", m[i].connect[j]);
		if (mark_invalid && !map_valid(&m[i]))
			PUT("!INVALID");
		PUT("%s", s->post);
	}
#undef PUT
}

static void callf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void callf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (fh.callslen < sizeof(fh.calls) - 1)
		fh.callslen += (size_t)vsnprintf(fh.calls + fh.callslen, sizeof(fh.calls) - fh.callslen,
		                                 fmt, ap);
	va_end(ap);
	if (fh.callslen >= sizeof(fh.calls))
		fh.callslen = sizeof(fh.calls) - 1;
}

struct fh_owner *fh_owner(const char *owner)
{
	int i;

	for (i = 0; i < fh.nowners; i++)
		if (strcmp(fh.owners[i].owner, owner) == 0)
			return &fh.owners[i];
	return NULL;
}

const char *fh_text(const char *owner)
{
	struct fh_owner *o = fh_owner(owner);

	return o ? o->text : NULL;
}

static void owner_drop(struct fh_owner *o)
{
	if (o)
		*o = fh.owners[--fh.nowners];
}

static int f_mapping_set(struct broker_plugin_handle *h, const char *owner, const char *desc,
                         const struct broker_mapping *m, size_t n)
{
	static char line[4096];
	struct fh_owner *o;
	size_t i;

	(void)h;
	fh.sets++;
	render(line, sizeof(line), m, n, &style_call, 1);
	callf("set %.12s n=%zu (%s)%s\n", owner, n, desc ? desc : "", line);
	o = fh_owner(owner);
	if (o)
		o->seen = fh.in_resync;
	for (i = 0; i < n; i++) {
		if (!map_valid(&m[i])) {
			fh.refused++;
			return -EINVAL;
		}
	}
	if (n == 0) {
		owner_drop(o);
		return 0;
	}
	if (!o) {
		if (fh.nowners == FH_MAX_OWNERS)
			return -ENOSPC;
		o = &fh.owners[fh.nowners++];
		memset(o, 0, sizeof(*o));
		snprintf(o->owner, sizeof(o->owner), "%s", owner);
		o->seen = fh.in_resync;
	}
	snprintf(o->desc, sizeof(o->desc), "%s", desc ? desc : "");
	render(o->text, sizeof(o->text), m, n, &style_text, 0);
	render(o->spec, sizeof(o->spec), m, n, &style_spec, 0);
	return 0;
}

static int f_mapping_remove(struct broker_plugin_handle *h, const char *owner)
{
	(void)h;
	fh.removes++;
	callf("remove %.12s\n", owner);
	owner_drop(fh_owner(owner));
	return 0;
}

static int f_resync_begin(struct broker_plugin_handle *h)
{
	int i;

	(void)h;
	fh.begins++;
	fh.in_resync = 1;
	for (i = 0; i < fh.nowners; i++)
		fh.owners[i].seen = 0;
	callf("begin\n");
	return 0;
}

/* Owners not set since resync_begin are removed. */
static int f_resync_commit(struct broker_plugin_handle *h)
{
	int i;

	(void)h;
	fh.commits++;
	fh.in_resync = 0;
	for (i = fh.nowners - 1; i >= 0; i--)
		if (!fh.owners[i].seen)
			owner_drop(&fh.owners[i]);
	callf("commit\n");
	return 0;
}

void fh_calls_clear(void)
{
	fh.callslen = 0;
	fh.calls[0] = '\0';
}

void fh_reset(void)
{
	memset(&fh, 0, sizeof(fh));
}

/* ------------------------------------------------------------- plugin */

static const struct broker_host host = {
	.struct_size = sizeof(struct broker_host),
	.abi_major = BROKER_ABI_MAJOR,
	.abi_minor = BROKER_ABI_MINOR,
	.log = f_log,
	.vlog = f_vlog,
	.event_base = f_event_base,
	.option_string = f_option_string,
	.option_int = f_option_int,
	.option_bool = f_option_bool,
	.url_param = f_url_param,
	.timer_new = f_timer_new,
	.timer_arm = f_timer_arm,
	.timer_free = f_timer_free,
	.post = f_post,
	.accepted = f_accepted,
	.connected = f_connected,
	.connect_failed = f_connect_failed,
	.mapping_set = f_mapping_set,
	.mapping_remove = f_mapping_remove,
	.resync_begin = f_resync_begin,
	.resync_commit = f_resync_commit,
};

int fh_open(struct fh_plugin *P, const char *path, struct event_base *base)
{
	broker_plugin_entry_fn entry;

	memset(P, 0, sizeof(*P));
	P->base = base;
	P->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!P->dl) {
		fh_diag("dlopen %s: %s", path, dlerror());
		return -1;
	}
	*(void **)&entry = dlsym(P->dl, BROKER_PLUGIN_ENTRY);
	if (entry)
		P->p = entry(&host);
	if (!P->p) {
		fh_diag("%s: no plugin entry", path);
		return -1;
	}
	return 0;
}

const struct broker_host *fh_host(void)
{
	return &host;
}

void fh_bare(struct fh_plugin *P, const struct broker_plugin *p, struct event_base *base)
{
	memset(P, 0, sizeof(*P));
	P->base = base;
	P->p = p;
}

int fh_init(struct fh_plugin *P, const char *const *opts, char *err, size_t errlen)
{
	size_t i;
	int r;

	fh_reset();
	memset(P->opt, 0, sizeof(P->opt));
	for (i = 0; opts && opts[i]; i++) {
		const char *eq = strchr(opts[i], '=');
		char name[128];

		snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - opts[i]) : (int)strlen(opts[i]),
		         opts[i]);
		fh_option(P, name, eq ? eq + 1 : NULL);
	}
	err[0] = '\0';
	P->state = NULL;
	P->inited = P->started = 0;
	r = P->p->init ? P->p->init((struct broker_plugin_handle *)(void *)P, &P->state, err, errlen) : 0;
	if (r < 0) {
		P->state = NULL;
		return r;
	}
	P->inited = 1;
	return 0;
}

int fh_start(struct fh_plugin *P, char *err, size_t errlen)
{
	int r;

	err[0] = '\0';
	r = P->p->start ? P->p->start(P->state, err, errlen) : 0;
	if (r < 0) {
		if (P->p->fini)
			P->p->fini(P->state);
		P->state = NULL;
		P->inited = 0;
		return r;
	}
	P->started = 1;
	return 0;
}

int fh_up(struct fh_plugin *P, const char *const *opts, char *err, size_t errlen)
{
	int r = fh_init(P, opts, err, errlen);

	return r < 0 ? r : fh_start(P, err, errlen);
}

int fh_load(struct fh_plugin *P, const char *path, struct event_base *base, const char *const *opts,
            char *err, size_t errlen)
{
	int r;

	if (fh_open(P, path, base) < 0)
		return -1;
	r = fh_init(P, opts, err, errlen);
	if (r < 0) {
		fh_diag("init: %s", err);
		return r;
	}
	r = fh_start(P, err, errlen);
	if (r < 0)
		fh_diag("start: %s", err);
	return r;
}

void fh_down(struct fh_plugin *P)
{
	while (timers)
		f_timer_free(timers);
	if (P->started && P->p->stop)
		P->p->stop(P->state);
	if (P->inited && P->p->fini)
		P->p->fini(P->state);
	P->state = NULL;
	P->inited = P->started = 0;
}

void fh_close(struct fh_plugin *P)
{
	fh_down(P);
	if (P->dl)
		dlclose(P->dl);
	memset(P, 0, sizeof(*P));
}

const char *fh_plugin_path(int argc, char **argv, int i, const char *env, const char *name,
                           char *buf, size_t len)
{
	const char *top = getenv("top_builddir");

	if (argc > i)
		return argv[i];
	if (getenv(env))
		return getenv(env);
	snprintf(buf, len, "%s/plugins/%s/.libs/%s.so", top ? top : ".", name, name);
	return buf;
}

void fh_url(struct broker_url *u, const char *scheme, const char *address,
            const struct broker_url_param *params, size_t nparams)
{
	memset(u, 0, sizeof(*u));
	u->text = address;
	u->scheme = scheme;
	u->address = address;
	u->params = params;
	u->nparams = nparams;
}

/* ------------------------------------------------------------- loop */

static struct event *tick_ev;
static struct event_base *tick_base;

static void tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

struct event_base *fh_base_new(void)
{
	struct timeval tv = { 0, 5000 };
	struct event_base *base = event_base_new();

	if (base && !tick_ev) {
		tick_ev = event_new(base, -1, EV_PERSIST, tick, NULL);
		tick_base = base;
		event_add(tick_ev, &tv);
	}
	return base;
}

void fh_base_free(struct event_base *base)
{
	if (base && base == tick_base) {
		event_free(tick_ev);
		tick_ev = NULL;
		tick_base = NULL;
	}
	if (base)
		event_base_free(base);
}

long long fh_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fh_run_until(struct event_base *base, int (*done)(void *arg), void *arg, int ms)
{
	long long end = fh_now_ms() + ms;

	while (!done(arg) && fh_now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	return done(arg);
}

static int never(void *arg)
{
	(void)arg;
	return 0;
}

void fh_run_for(struct event_base *base, int ms)
{
	fh_run_until(base, never, NULL, ms);
}

struct int_goal {
	const int *v;
	int want;
};

static int int_reached(void *arg)
{
	const struct int_goal *g = arg;

	return *g->v >= g->want;
}

int fh_wait_int(struct event_base *base, const int *v, int want, int ms)
{
	struct int_goal g = { v, want };

	return fh_run_until(base, int_reached, &g, ms);
}

static int log_has(void *needle)
{
	return strstr(fh.log, needle) != NULL;
}

int fh_wait_log(struct event_base *base, const char *needle, int ms)
{
	return fh_run_until(base, log_has, (void *)needle, ms);
}

static int calls_have(void *needle)
{
	return strstr(fh.calls, needle) != NULL;
}

int fh_wait_calls(struct event_base *base, const char *needle, int ms)
{
	return fh_run_until(base, calls_have, (void *)needle, ms);
}

struct owner_goal {
	const char *owner;
	int present;
};

static int owner_reached(void *arg)
{
	const struct owner_goal *g = arg;

	return (fh_owner(g->owner) != NULL) == g->present;
}

int fh_wait_owner(struct event_base *base, const char *owner, int present, int ms)
{
	struct owner_goal g = { owner, present };

	return fh_run_until(base, owner_reached, &g, ms);
}
