/* events.c - publish what changes (mappings, links, routes) on the event feed. */
#include <config.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "broker/broker.h"
#include "broker/display.h"
#include "broker/events.h"
#include "broker/log.h"
#include "broker/service.h"
#include "rpc/event_pub.h"

#define TAG "events"

static char *s(const char *v)
{
	return (char *)(v ? v : "");
}

void mapping_info_msg(const struct mapping_info *mi, Broker__Control__MappingInfo *m)
{
	broker__control__mapping_info__init(m);
	m->source = s(mi->source);
	m->owner = s(mi->owner);
	m->description = s(mi->description);
	m->proto = (char *)mapping_proto_name(mi->proto);
	m->host_ip = s(mi->host_ip);
	m->host_port = mi->host_port;
	m->n_connect = mi->nconnect;
	m->connect = (char **)mi->connect;
	m->state = s(mi->state);
	m->origin = mi->origin == MAPPING_PEER ? "peer" : "local";
	m->listen = s(mi->listen);
	m->conns_total = mi->counters.conns_total;
	m->conns_active = mi->counters.conns_active;
	m->bytes_in = mi->counters.bytes_in;
	m->bytes_out = mi->counters.bytes_out;
	m->errors = mi->counters.errors;
}

static int64_t now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/*
 * One concise line: who, what, where to, and what became of it:
 * "peer docker/0123456789ab web: tcp 0.0.0.0:8080 -> 172.17.0.2:80: listening on tcp://127.0.0.1:8080".
 * Ids are short here; the event's mapping carries them whole.
 */
static void mapping_event_text(char *buf, size_t len, const struct mapping_info *mi)
{
	char owner[80];
	bool v6 = mi->host_ip && strchr(mi->host_ip, ':');

	display_short_id(owner, sizeof(owner), s(mi->owner));
	snprintf(buf, len, "%s %s/%s%s%s: %s %s%s%s:%u -> %s%s: %s", mi->origin == MAPPING_PEER ? "peer" : "local",
	         s(mi->source), owner, mi->description && *mi->description ? " " : "", s(mi->description),
	         mapping_proto_name(mi->proto), v6 ? "[" : "", s(mi->host_ip), v6 ? "]" : "", mi->host_port,
	         mi->nconnect ? mi->connect[0] : "-", mi->nconnect > 1 ? " (and more)" : "", s(mi->state));
}

static void on_mapping_event(void *arg, const char *kind, const struct mapping_info *info)
{
	struct broker *b = arg;
	Broker__Control__Event ev = BROKER__CONTROL__EVENT__INIT;
	Broker__Control__MappingInfo m;
	struct mapping_info mi = *info;
	char text[768];

	/* The service manager's status line counts mappings. */
	service_changed(b->service);
	/* What a removed mapping was doing until now is no news. */
	if (!strcmp(kind, "mapping.remove"))
		mi.state = "removed";
	mapping_info_msg(&mi, &m);
	mapping_event_text(text, sizeof(text), &mi);
	ev.time_ms = now_ms();
	ev.kind = (char *)kind;
	ev.mapping = &m;
	ev.text = text;
	event_pub_publish(b->events, &ev);
}

void events_text(struct broker *b, const char *kind, const char *fmt, ...)
{
	Broker__Control__Event ev = BROKER__CONTROL__EVENT__INIT;
	char text[512];
	va_list ap;

	/* Links and routes come and go here: the status line may say so. */
	service_changed(b->service);
	if (!b->events)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ev.time_ms = now_ms();
	ev.kind = (char *)kind;
	ev.text = text;
	event_pub_publish(b->events, &ev);
}

void events_start(struct broker *b)
{
	char err[512];
	char *url = event_pub_url(b->cfg.runtime_dir);

	if (!url || event_pub_start(url, &b->events, err, sizeof(err)) < 0) {
		log_warn(TAG, "no event feed (brokerctl watch will not work): %s", url ? err : "out of memory");
		b->events = NULL;
	} else {
		log_info(TAG, "event feed: %s", url);
	}
	free(url);
	mappings_set_listener(b->mappings, on_mapping_event, b);
}

void events_stop(struct broker *b)
{
	if (b->mappings)
		mappings_set_listener(b->mappings, NULL, NULL);
	event_pub_stop(b->events);
	b->events = NULL;
}
