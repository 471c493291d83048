/* brokerctl.h - private to brokerctl: options, output helpers, the RPC session, commands. */
#ifndef BROKER_BROKERCTL_H
#define BROKER_BROKERCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "broker/printf_attr.h"
#include "proto/control.pb-c.h"

#define EXIT_USAGE 2
/* route add: stored, but its listener on the peer is not open yet (link down, no answer in time). */
#define EXIT_PENDING 3
#define DEFAULT_TIMEOUT_MS 10000
/* Positional words: command, subcommand, operand; `watch` takes topics. */
#define MAX_ARGS 64
#define MAX_CONNECT 16

struct opts {
	const char *runtime_dir;
	bool json;
	int timeout_ms;
	bool timeout_given;        /* watch: --timeout bounds the wait for an event */
	const char *listen;
	const char *connect;       /* the last --connect (route add) */
	const char *connects[MAX_CONNECT];  /* every --connect (mapping add) */
	int nconnects;
	long max_connections;      /* -1: not given */
	const char *proto;         /* mapping add */
	const char *host_ip;
	const char *owner;
	const char *description;
	long count;                /* watch --count; -1: not given */
	const char *socket;        /* setup docker: the dockerd socket on the peer */
	const char *name;          /* setup docker: route and socket name */
	bool remove;               /* setup docker --remove */
	const char *args[MAX_ARGS];
	int nargs;
};

/* ---- sys_posix.c / sys_win32.c: the few OS calls brokerctl makes ---- */

/* Call handler(sig) on SIGINT and SIGTERM (Windows: Ctrl-C, Ctrl-Break), without restarting calls. */
void ctl_catch_stop_signals(void (*handler)(int sig));
/* path made absolute from our working directory when it is relative and exists here (malloc'd); else NULL. */
char *ctl_absolute_path(const char *path);
/*
 * setup docker: the local endpoint the docker CLI reaches (POSIX: unix://RUNTIME_DIR/NAME.sock; Windows:
 * npipe:////./pipe/docker_engine, the CLI's default, for NAME "docker", else .../docker_engine_NAME), and
 * whether the CLI needs a context to find it (Windows' default pipe needs none).  0, or -ENAMETOOLONG.
 */
int ctl_docker_endpoint(const char *runtime_dir, const char *name, char *url, size_t len, bool *needs_context);
/*
 * Send request to the local endpoint url (unix:// or npipe://) and read the reply until the other end
 * closes, cap bytes are in or timeout_ms passed.  0 (*got: bytes read, 0 when it closed with no answer),
 * or -errno with the reason in err.
 */
int ctl_endpoint_exchange(const char *url, const char *request, char *reply, size_t cap, size_t *got,
                          int timeout_ms, char *err, size_t errlen);
/* Is program (a bare name) an executable file in a directory of PATH? */
bool ctl_program_on_path(const char *program);
/*
 * Run argv (argv[0] looked up in PATH, our environment) with stdout and stderr into out (at most cap - 1
 * bytes kept, NUL-terminated), killed after timeout_ms.  Its exit status (>= 0), or -errno (-ENOSYS where
 * brokerctl does not run programs: Windows).
 */
int ctl_run(char *const argv[], char *out, size_t cap, int timeout_ms);

/* Every top-level command, for the completion scripts (cmd_completion.c). */
#define CTL_COMMAND_WORDS "status route mapping plugin link setup watch reload shutdown autostart completion"
/* ---- cmd_completion.c: brokerctl completion bash|zsh (no broker needed) ---- */
int cmd_completion(const struct opts *o);

/* ---- cmd_autostart.c: brokerctl autostart (no broker needed) ---- */
int cmd_autostart(const struct opts *o);

/* ---- output.c ---- */

/* One line "brokerctl: ..." on stderr; returns code. */
int die(int code, const char *fmt, ...) BROKER_PRINTF(2, 3);
void human_bytes(char *buf, size_t len, uint64_t n);
void uptime_text(char *buf, size_t len, int64_t s);
/* "a,b,c", or "-" when n is 0. */
void join(char *buf, size_t len, char **v, size_t n);
/* One line on stdout with control characters escaped (text that may come from the peer). */
void print_line(const char *text);
/* Print indented and free j. */
void print_json(json_t *j);

/* A table: rows of cells, printed with each column as wide as its widest cell. */
#define TABLE_MAX_COLS 10
struct table {
	int ncols;
	size_t nrows, cap;
	char **cells;   /* nrows * ncols, malloc'd strings */
};
void table_row(struct table *t, ...);
/* Print and free the rows. */
void table_print(struct table *t);

/* ---- session.c ---- */

struct ctl_client;

struct session {
	struct opts *o;
	struct ctl_client *c;
	const char *what;     /* "route add docker": prefixes the broker's reason */
};

/* The runtime dir from --runtime-dir, BROKER_RUNTIME_DIR or the default (malloc'd; NULL: no memory). */
char *session_runtime_dir(const struct opts *o);
/* Connect to the broker's control socket; prints the reason and returns the exit code, else 0. */
int session_open(struct session *s);
void session_close(struct session *s);
/* One call; on failure prints the reason and returns the exit code, else 0. */
int call(struct session *s, const char *service, const char *method, const ProtobufCMessage *req,
         uint8_t **reply, size_t *reply_len);
/* A call for extra detail (a request with no body): on failure nothing is printed and -1 returned. */
int call_quiet(struct session *s, const char *service, const char *method, uint8_t **reply, size_t *reply_len);
/* A call whose reply carries nothing: prints done (or {"ok": true}). */
int cmd_simple(struct session *s, const char *service, const char *method, const ProtobufCMessage *req,
               const char *done);

#define UNPACK_OR_FAIL(var, fn, reply, len)                                         \
	do {                                                                           \
		var = fn(NULL, len, reply);                                                \
		free(reply);                                                               \
		if (!var)                                                                  \
			return die(1, "the broker sent a reply this brokerctl cannot read " \
			              "(version mismatch?)");                                 \
	} while (0)

/* ---- commands ---- */

int cmd_status(struct session *s);
int cmd_reload(struct session *s);
int cmd_link_status(struct session *s);
int cmd_route_list(struct session *s);
int cmd_route_add(struct session *s, const char *name);
int cmd_route_rm(struct session *s, const char *name);
int cmd_plugin_list(struct session *s);
int cmd_plugin_load(struct session *s, const char *path);
int cmd_plugin_help(struct session *s, const char *name);
int cmd_plugin_unload(struct session *s, const char *name);
int cmd_mapping_list(struct session *s);
int cmd_mapping_add(struct session *s, uint32_t port);
int cmd_mapping_rm(struct session *s, const char *owner);
/* cmd_setup.c: setup docker [--socket PATH] [--remove] [--name NAME]. */
int cmd_setup_docker(struct session *s);
/* Needs no control connection: subscribes to events.sock. */
int cmd_watch(const struct opts *o, const char *const *topics, int ntopics);

/* cmd_mapping.c, shared with cmd_watch.c */
json_t *mapping_json(const Broker__Control__MappingInfo *m);
/* "127.0.0.1:8080", "[::1]:8080", or "8080" with no host ip. */
void mapping_host_port(char *buf, size_t len, const Broker__Control__MappingInfo *m);

#endif
