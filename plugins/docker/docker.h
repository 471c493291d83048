/*
 * plugins/docker/docker.h - internal interface between the docker watcher's
 * connection logic (docker.c) and its JSON parsing (docker_parse.c).
 */
#ifndef BROKER_PLUGINS_DOCKER_H
#define BROKER_PLUGINS_DOCKER_H

#include <stddef.h>
#include <stdint.h>

#include "broker/plugin.h"
#include "plugins/common/portmap.h"

#define DK_ID_MAX 64                /* a full container id: 64 hex digits */
#define DK_NAME_MAX 128
#define DK_ADDR_MAX PORTMAP_ADDR_MAX          /* "[ffff:...:ffff]:65535" */
#define DK_CONNECT_MAX PORTMAP_CONNECT_MAX    /* 3 */
#define DK_MAPS_MAX 4096            /* bindings kept per container */

/* The order of connect addresses (option "prefer"). */
enum dk_prefer {
	DK_PREFER_PUBLISHED = 0,    /* HostIp:HostPort (127.0.0.1 for 0.0.0.0) first */
	DK_PREFER_CONTAINER = 1,    /* containerIP:containerPort first */
};

/* What an inspect document says about a container. */
struct dk_inspect_result {
	char id[DK_ID_MAX + 1];
	char name[DK_NAME_MAX];
	int running;
	size_t nmaps;
	struct portmap_binding *maps;   /* malloc'd; free with free() */
	size_t nskipped;                /* bindings refused (bad port, bad address ...) */
};

/* One event from /events. */
struct dk_event {
	char id[DK_ID_MAX + 1];
	char action[16];                /* "start", "stop", "die", or another word */
	char name[DK_NAME_MAX];         /* Actor.Attributes.name, may be empty */
};

/* Logging callback the parsers use to explain what they refused. */
typedef void (*dk_log_fn)(void *arg, enum broker_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* 1 when s is a plausible container id (12..64 lowercase hex digits). */
int dk_valid_id(const char *s);

/*
 * Parse GET /containers/json: the ids of running containers.  Calls
 * each(arg, id) for every valid entry, logs and skips invalid ones.  Returns
 * the number of ids, or -EBADMSG (not a JSON array) with a reason in err.
 */
int dk_parse_list(const char *doc, size_t len, size_t max_ids, void (*each)(void *arg, const char *id),
                  void *arg, dk_log_fn log, void *log_arg, char *err, size_t errlen);

/*
 * Parse GET /containers/{id}/json into r (r->maps must be freed).  Bindings
 * with a bad port or address are skipped and logged; returns 0, or -EBADMSG
 * with a reason (not JSON, not an object, no Id, wrong types).
 */
int dk_parse_inspect(const char *doc, size_t len, enum dk_prefer prefer, struct dk_inspect_result *r,
                     dk_log_fn log, void *log_arg, char *err, size_t errlen);

/* Parse one /events line; returns 0, 1 (not a container event: ignore) or -EBADMSG. */
int dk_parse_event(const char *line, size_t len, struct dk_event *ev, char *err, size_t errlen);

#endif /* BROKER_PLUGINS_DOCKER_H */
