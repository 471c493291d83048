/* host.c - the services table plugins call (struct broker_host). */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <event2/event.h>

#include "broker/broker.h"
#include "broker/endpoint.h"
#include "broker/host.h"
#include "broker/log.h"
#include "broker/mapping.h"
#include "broker/plugins_internal.h"
#include "broker/store.h"
#include "broker/url.h"

static void host_vlog(struct broker_plugin_handle *h, enum broker_log_level level, const char *fmt, va_list ap)
{
	log_vwrite(level, plugin_name(plugin_from_handle(h)), fmt, ap);
}

static void host_log(struct broker_plugin_handle *h, enum broker_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	host_vlog(h, level, fmt, ap);
	va_end(ap);
}

static struct event_base *host_event_base(struct broker_plugin_handle *h)
{
	return plugin_broker(plugin_from_handle(h))->base;
}

static const char *host_option_string(struct broker_plugin_handle *h, const char *name)
{
	return plugin_option_text(plugin_from_handle(h), name);
}

static long long host_option_int(struct broker_plugin_handle *h, const char *name)
{
	const char *v = plugin_option_text(plugin_from_handle(h), name);

	return v ? strtoll(v, NULL, 0) : 0;
}

static int host_option_bool(struct broker_plugin_handle *h, const char *name)
{
	const char *v = plugin_option_text(plugin_from_handle(h), name);

	return v && (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"));
}

/* ---------------------------------------------------------- timers */

struct broker_timer {
	struct plugin_resource res;   /* first: released on unload */
	struct plugin *plugin;
	struct event *ev;
	broker_timer_fn fn;
	void *arg;
};

static void timer_fire(evutil_socket_t fd, short what, void *arg)
{
	struct broker_timer *t = arg;

	t->fn(t->arg);
}

static void timer_release(struct plugin_resource *res)
{
	struct broker_timer *t = (struct broker_timer *)res;

	event_free(t->ev);
	free(t);
}

static struct broker_timer *host_timer_new(struct broker_plugin_handle *h, broker_timer_fn fn, void *arg)
{
	struct plugin *p = plugin_from_handle(h);
	struct broker_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ev = evtimer_new(plugin_broker(p)->base, timer_fire, t);
	if (!t->ev) {
		free(t);
		return NULL;
	}
	t->plugin = p;
	t->fn = fn;
	t->arg = arg;
	t->res.release = timer_release;
	plugin_track(p, &t->res);
	return t;
}

static int host_timer_arm(struct broker_timer *t, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms < 0)
		return event_del(t->ev) == 0 ? 0 : -EINVAL;
	return event_add(t->ev, &tv) == 0 ? 0 : -EINVAL;
}

static void host_timer_free(struct broker_timer *t)
{
	if (!t)
		return;
	plugin_untrack(t->plugin, &t->res);
	timer_release(&t->res);
}

/* ---------------------------------------------------------- post */

/*
 * Work posted from plugin threads goes into the plugin's own queue, drained
 * on the loop by one event (event_active is thread-safe because the broker
 * enables libevent's thread support before creating its base).  The queue
 * belongs to the plugin: when it unloads, whatever is still queued is
 * dropped, never run after its code is gone.
 */
struct post_item {
	struct post_item *next;
	broker_post_fn fn;
	void *arg;
};

struct post_queue {
	pthread_mutex_t lock;
	struct post_item *head, *tail;
	struct event *ev;
};

static void post_drain(evutil_socket_t fd, short what, void *arg)
{
	struct post_queue *q = arg;
	struct post_item *it;

	pthread_mutex_lock(&q->lock);
	it = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->lock);
	while (it) {
		struct post_item *next = it->next;
		it->fn(it->arg);
		free(it);
		it = next;
	}
}

struct post_queue *post_queue_new(struct event_base *base)
{
	struct post_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	if (pthread_mutex_init(&q->lock, NULL) != 0) {
		free(q);
		return NULL;
	}
	q->ev = event_new(base, -1, 0, post_drain, q);
	if (!q->ev) {
		pthread_mutex_destroy(&q->lock);
		free(q);
		return NULL;
	}
	return q;
}

void post_queue_free(struct post_queue *q)
{
	if (!q)
		return;
	event_free(q->ev);
	while (q->head) {
		struct post_item *it = q->head;
		q->head = it->next;
		free(it);
	}
	pthread_mutex_destroy(&q->lock);
	free(q);
}

static int host_post(struct broker_plugin_handle *h, broker_post_fn fn, void *arg)
{
	struct post_queue *q = plugin_from_handle(h)->posts;
	struct post_item *it;

	if (!q)
		return -ENOMEM;
	it = malloc(sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->fn = fn;
	it->arg = arg;
	it->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	pthread_mutex_unlock(&q->lock);
	event_active(q->ev, EV_READ, 0);
	return 0;
}

/* ---------------------------------------------------------- state */

static int host_state_get(struct broker_plugin_handle *h, const char *key, void **value, size_t *len)
{
	struct plugin *p = plugin_from_handle(h);

	/* No store while --check-config runs a plugin's init. */
	if (!plugin_broker(p)->store)
		return -ENODEV;
	return store_kv_get(plugin_broker(p)->store, plugin_name(p), key, value, len);
}

static int host_state_set(struct broker_plugin_handle *h, const char *key, const void *value, size_t len)
{
	struct plugin *p = plugin_from_handle(h);

	/* No store while --check-config runs a plugin's init. */
	if (!plugin_broker(p)->store)
		return -ENODEV;
	return store_kv_set(plugin_broker(p)->store, plugin_name(p), key, value, len);
}

static int host_state_delete(struct broker_plugin_handle *h, const char *key)
{
	struct plugin *p = plugin_from_handle(h);

	/* No store while --check-config runs a plugin's init. */
	if (!plugin_broker(p)->store)
		return -ENODEV;
	return store_kv_delete(plugin_broker(p)->store, plugin_name(p), key);
}

/* ---------------------------------------------------------- mappings (not yet) */

/*
 * The mapping table goes before the plugins stop at shutdown (and does not
 * exist for --check-config): a watcher reporting from its stop() or fini()
 * gets -ECANCELED instead of a freed table.
 */
static int host_mapping_set(struct broker_plugin_handle *h, const char *owner, const char *description,
                            const struct broker_mapping *m, size_t n)
{
	struct plugin *p = plugin_from_handle(h);
	struct mapping_table *mt = plugin_broker(p)->mappings;
	char err[512];

	if (!mt)
		return -ECANCELED;
	return mappings_set(mt, plugin_name(p), owner, description, m, n, err, sizeof(err));
}

static int host_mapping_remove(struct broker_plugin_handle *h, const char *owner)
{
	struct plugin *p = plugin_from_handle(h);
	struct mapping_table *mt = plugin_broker(p)->mappings;

	return mt ? mappings_remove_owner(mt, plugin_name(p), owner) : -ECANCELED;
}

static int host_resync_begin(struct broker_plugin_handle *h)
{
	struct plugin *p = plugin_from_handle(h);
	struct mapping_table *mt = plugin_broker(p)->mappings;

	return mt ? mappings_resync_begin(mt, plugin_name(p)) : -ECANCELED;
}

static int host_resync_commit(struct broker_plugin_handle *h)
{
	struct plugin *p = plugin_from_handle(h);
	struct mapping_table *mt = plugin_broker(p)->mappings;

	return mt ? mappings_resync_commit(mt, plugin_name(p)) : -ECANCELED;
}

const struct broker_host broker_host_table = {
	.struct_size = sizeof(struct broker_host),
	.abi_major = BROKER_ABI_MAJOR,
	.abi_minor = BROKER_ABI_MINOR,
	.log = host_log,
	.vlog = host_vlog,
	.event_base = host_event_base,
	.option_string = host_option_string,
	.option_int = host_option_int,
	.option_bool = host_option_bool,
	.url_param = url_param,
	.timer_new = host_timer_new,
	.timer_arm = host_timer_arm,
	.timer_free = host_timer_free,
	.post = host_post,
	.accepted = endpoint_host_accepted,
	.connected = endpoint_host_connected,
	.connect_failed = endpoint_host_connect_failed,
	.state_get = host_state_get,
	.state_set = host_state_set,
	.state_delete = host_state_delete,
	.free = free,
	.mapping_set = host_mapping_set,
	.mapping_remove = host_mapping_remove,
	.resync_begin = host_resync_begin,
	.resync_commit = host_resync_commit,
	.accept_dropped = endpoint_host_accept_dropped,
};
