/*
 * broker/plugin.h - the public plugin ABI of brokerd.
 *
 * A plugin is a shared object (.so / .dll) that exports exactly one symbol,
 * defined with BROKER_PLUGIN_DEFINE().  The core calls it with a table of
 * host services (struct broker_host) and gets back a description of the
 * plugin (struct broker_plugin).  Plugins never link against the daemon:
 * everything they need from the core is in the host table, which keeps
 * Windows DLLs free of import libraries for the executable.
 *
 * Compatibility: both tables start with their own size and the ABI version.
 * The core refuses a plugin whose major version differs, and copies
 * min(struct_size, sizeof) of the plugin table, zero-filling the rest, so
 * plugins built against an older minor version keep loading.  New fields are
 * only ever appended.
 *
 * Threading: every callback runs on the broker's loop thread.  A plugin that
 * needs a thread posts results back with host->post().
 *
 * Errors: functions return 0 or a negative errno-style code (-ENOENT ...).
 * Where a function takes (char *err, size_t errlen), it writes a one-line
 * reason a user can act on; the core prefixes the thing it concerns.
 *
 * See broker-plugin(7) for the lifecycle and a complete example.
 */
#ifndef BROKER_PLUGIN_H
#define BROKER_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BROKER_ABI_MAJOR 1
#define BROKER_ABI_MINOR 1

/* The one symbol a plugin exports. */
#define BROKER_PLUGIN_ENTRY "broker_plugin_entry"

#if defined(_WIN32)
#define BROKER_EXPORT __declspec(dllexport)
typedef intptr_t broker_fd;   /* a SOCKET or HANDLE */
#define BROKER_FD_NONE ((broker_fd)-1)
#else
#define BROKER_EXPORT __attribute__((visibility("default")))
typedef int broker_fd;
#define BROKER_FD_NONE (-1)
#endif

struct event_base;
struct broker_host;
struct broker_plugin;

/* Opaque handles owned by the core. */
struct broker_plugin_handle;  /* one loaded plugin: pass it to host calls */
struct broker_accept_sink;    /* where a listener delivers accepted streams */
struct broker_connect_req;    /* one pending outgoing connection */
struct broker_timer;          /* a core-tracked timer */

/* ------------------------------------------------------------------ log */

enum broker_log_level {
	BROKER_LOG_ERROR = 0,
	BROKER_LOG_WARN = 1,
	BROKER_LOG_INFO = 2,
	BROKER_LOG_DEBUG = 3,
	BROKER_LOG_TRACE = 4,
};

/* ------------------------------------------------------------- options */

enum broker_option_type {
	BROKER_OPT_END = 0,   /* terminates an option table */
	BROKER_OPT_STRING,
	BROKER_OPT_INT,
	BROKER_OPT_BOOL,
	BROKER_OPT_PATH,
};

/*
 * A typed option a plugin accepts.  The core checks values against the type
 * (and [min,max] for ints) before init, fills in defaults, and prints the
 * table for `brokerctl plugin help NAME`.
 */
struct broker_option {
	enum broker_option_type type;
	const char *name;
	const char *default_value; /* textual, NULL: no default (unset) */
	const char *help;
	long long min, max;        /* BROKER_OPT_INT only; min == max: no bound */
};

/* ------------------------------------------------------------- URLs */

/* One `key=value` from the URL query (`?mode=0660&group=docker`). */
struct broker_url_param {
	const char *key;
	const char *value;
};

/*
 * An endpoint address as written by the user, split by the core.
 * `unix:///run/x.sock?mode=0660` -> scheme "unix", address "/run/x.sock".
 * `tcp://127.0.0.1:8080` -> scheme "tcp", address "127.0.0.1:8080".
 * `exec:docker system dial-stdio` -> scheme "exec", address "docker system dial-stdio".
 * Percent-escapes in address and params are already decoded.
 */
struct broker_url {
	const char *text;     /* the whole URL as given */
	const char *scheme;
	const char *address;
	size_t nparams;
	const struct broker_url_param *params;
};

/*
 * A URL query parameter an endpoint plugin accepts (ABI 1.1), in a table
 * ending with { NULL }.  The core refuses a URL carrying a parameter its
 * plugin does not declare, or one used where it does not apply (listening
 * or connecting), before listen or connect sees it:
 *   "unix:///x.sock?mod=0660: unknown parameter 'mod' (unix takes mode, group, backlog)".
 */
#define BROKER_PARAM_LISTEN  (1u << 0)  /* accepted on URLs the plugin listens on */
#define BROKER_PARAM_CONNECT (1u << 1)  /* accepted on URLs the plugin connects to */

struct broker_url_param_decl {
	const char *key;
	uint32_t where;             /* BROKER_PARAM_LISTEN and/or BROKER_PARAM_CONNECT */
	const char *scheme;         /* only for this one of the plugin's schemes; NULL: all of them */
	const char *help;           /* one line, for `brokerctl plugin help` */
};

/* ------------------------------------------------------------- streams */

enum broker_stream_flags {
	/* rfd == wfd is a socket: half-close is shutdown(SHUT_WR). */
	BROKER_STREAM_SOCKET = 1u << 0,
	/* rfd and wfd are the two ends of a pipe pair: half-close closes wfd. */
	BROKER_STREAM_PIPES = 1u << 1,
	/* rfd == wfd is a connected datagram socket (UDP): message boundaries are kept end to end. */
	BROKER_STREAM_DATAGRAM = 1u << 2,
};

/*
 * A connected byte stream handed from a plugin to the core.  The core takes
 * ownership of the descriptors (it sets them non-blocking and closes them)
 * and calls on_close(close_arg) once after it closed them, so the plugin can
 * reap a child process or free its bookkeeping.
 */
struct broker_stream_desc {
	broker_fd rfd;
	broker_fd wfd;
	uint32_t flags;             /* enum broker_stream_flags */
	const char *peer;           /* who is on the other end, for logs: "uid=1000 pid=42" */
	void (*on_close)(void *close_arg);
	void *close_arg;
};

/* ------------------------------------------------------------- plugin */

enum broker_plugin_kind {
	BROKER_KIND_ENDPOINT = 1u << 0,
	BROKER_KIND_WATCHER = 1u << 1,
};

struct broker_plugin {
	uint32_t struct_size;       /* sizeof(struct broker_plugin) when built */
	uint16_t abi_major;         /* BROKER_ABI_MAJOR when built */
	uint16_t abi_minor;         /* BROKER_ABI_MINOR when built */
	const char *name;           /* unique, [a-z0-9_-]+ */
	const char *version;
	const char *description;    /* one line */
	uint32_t kinds;             /* enum broker_plugin_kind bits */
	const struct broker_option *options; /* ends with BROKER_OPT_END; may be NULL */

	/*
	 * Lifecycle.  init validates options and allocates *state; it must not
	 * open sockets.  start runs once the loop is up and state is restored.
	 * reload is called on SIGHUP/`brokerctl reload` after options changed.
	 * stop releases what the plugin made itself (its own events, sockets,
	 * threads, and host timers if it wants to); the core then releases
	 * whatever the plugin still had registered with it (host timers
	 * included).  Before stop, the core closes the listeners and cancels the
	 * pending connects it had asked of the plugin.  fini frees state.  Any
	 * may be NULL.
	 */
	int (*init)(struct broker_plugin_handle *h, void **state, char *err, size_t errlen);
	int (*start)(void *state, char *err, size_t errlen);
	int (*reload)(void *state, char *err, size_t errlen);
	void (*stop)(void *state);
	void (*fini)(void *state);

	/* ---- endpoint kind ---- */
	const char *const *schemes; /* URL schemes served, NULL-terminated */

	/*
	 * Start listening on url.  For each accepted connection call
	 * host->accepted(sink, &desc).  *listener is the plugin's handle, given
	 * back to unlisten.  describe (may be NULL) writes the effective address
	 * ("tcp://127.0.0.1:38211" when port 0 was asked).
	 */
	int (*listen)(void *state, const struct broker_url *url, struct broker_accept_sink *sink,
	              void **listener, char *err, size_t errlen);
	void (*unlisten)(void *state, void *listener);
	int (*describe)(void *state, void *listener, char *buf, size_t buflen);

	/*
	 * Start connecting to url.  Exactly once, later (never from inside
	 * connect itself), call host->connected(req, &desc) or
	 * host->connect_failed(req, -errno, reason) -- unless the core called
	 * connect_cancel(state, *pending) first, after which the plugin must
	 * not call either.  A plugin may return an error right away instead.
	 */
	int (*connect)(void *state, const struct broker_url *url, struct broker_connect_req *req,
	               void **pending, char *err, size_t errlen);
	void (*connect_cancel)(void *state, void *pending);

	/* ---- watcher kind ---- */
	int (*resync)(void *state);  /* report a full snapshot of mappings now */

	/* ---- appended in ABI 1.1 ---- */

	/*
	 * The URL query parameters the endpoint plugin accepts, ending with
	 * { NULL }; the core refuses any other before listen or connect sees
	 * it.  A plugin with no parameters points at a table holding only the
	 * terminator.  NULL (every plugin built for ABI 1.0): the core checks
	 * nothing and the plugin must refuse unknown parameters itself.
	 */
	const struct broker_url_param_decl *url_params;

	/* BROKER_WATCHER_* bits for the watcher kind (ABI 1.1); 0 for most. */
	uint32_t watcher_flags;
};

/*
 * The watcher reports whatever listens (procnet), including the listeners
 * other watchers' containers and services own (docker-proxy, a container on
 * the host network): its mapping of a port another watcher reports yields,
 * and is not exported or listed while that one is there.
 */
#define BROKER_WATCHER_YIELDS (1u << 0)

/* ------------------------------------------------------------- mappings */

enum broker_proto { BROKER_PROTO_TCP = 0, BROKER_PROTO_UDP = 1 };

/*
 * A published port found by a watcher (see DESIGN.md "mapping"): the peer
 * broker listens on host_ip:host_port and forwards each connection (or UDP
 * flow) to the first reachable address in connect.
 */
struct broker_mapping {
	enum broker_proto proto;
	const char *host_ip;        /* "0.0.0.0", "127.0.0.1", "::", "::1"; NULL or "": 0.0.0.0 */
	uint16_t host_port;         /* 1..65535 */
	size_t nconnect;
	const char *const *connect; /* guest addresses "10.4.0.22:80", "[fd00::5]:80", "127.0.0.1:8080" */
};

/* ------------------------------------------------------------- host */

typedef void (*broker_timer_fn)(void *arg);
typedef void (*broker_post_fn)(void *arg);

struct broker_host {
	uint32_t struct_size;
	uint16_t abi_major;
	uint16_t abi_minor;

	/* Log one line tagged with the plugin's name. */
	void (*log)(struct broker_plugin_handle *h, enum broker_log_level level, const char *fmt, ...)
#if defined(__MINGW32__)
		__attribute__((format(gnu_printf, 3, 4)))   /* mingw: "printf" means Microsoft's */
#elif defined(__GNUC__)
		__attribute__((format(printf, 3, 4)))
#endif
		;
	void (*vlog)(struct broker_plugin_handle *h, enum broker_log_level level, const char *fmt, va_list ap);

	/* The loop every callback runs on.  Events a plugin creates on it are its own to free. */
	struct event_base *(*event_base)(struct broker_plugin_handle *h);

	/* Typed option values (defaults applied).  Unknown names return NULL / 0. */
	const char *(*option_string)(struct broker_plugin_handle *h, const char *name);
	long long (*option_int)(struct broker_plugin_handle *h, const char *name);
	int (*option_bool)(struct broker_plugin_handle *h, const char *name);

	/* URL query parameters: value of key, or NULL. */
	const char *(*url_param)(const struct broker_url *url, const char *key);

	/*
	 * Core-tracked timers: freed by the core when the plugin unloads.
	 * timer_arm(ms) (re)arms a one-shot; ms < 0 disarms.
	 */
	struct broker_timer *(*timer_new)(struct broker_plugin_handle *h, broker_timer_fn fn, void *arg);
	int (*timer_arm)(struct broker_timer *t, long ms);
	void (*timer_free)(struct broker_timer *t);

	/* Thread-safe: run fn(arg) on the loop thread soon.  The only call allowed off the loop thread. */
	int (*post)(struct broker_plugin_handle *h, broker_post_fn fn, void *arg);

	/* Stream hand-off (see struct broker_plugin.listen / connect). */
	void (*accepted)(struct broker_accept_sink *sink, const struct broker_stream_desc *desc);
	void (*connected)(struct broker_connect_req *req, const struct broker_stream_desc *desc);
	void (*connect_failed)(struct broker_connect_req *req, int error, const char *reason);

	/* Per-plugin key-value state in the broker's store (sqlite). */
	int (*state_get)(struct broker_plugin_handle *h, const char *key, void **value, size_t *len);
	int (*state_set)(struct broker_plugin_handle *h, const char *key, const void *value, size_t len);
	int (*state_delete)(struct broker_plugin_handle *h, const char *key);
	void (*free)(void *p);  /* frees what state_get returned */

	/*
	 * Watchers report mappings per owner (a container id, a service uid, a
	 * rule id).  mapping_set replaces everything this plugin reported for
	 * owner with the n mappings given (n == 0 removes them, as does
	 * mapping_remove).  Between resync_begin and resync_commit the plugin
	 * reports its complete view: owners it did not set are removed at
	 * commit.  The core deduplicates, resolves conflicts, persists and syncs
	 * to the peer.  Invalid mappings (port 0, bad address) are refused with
	 * -EINVAL and logged; the rest of the set still applies.
	 */
	int (*mapping_set)(struct broker_plugin_handle *h, const char *owner, const char *description,
	                   const struct broker_mapping *m, size_t n);
	int (*mapping_remove)(struct broker_plugin_handle *h, const char *owner);
	int (*resync_begin)(struct broker_plugin_handle *h);
	int (*resync_commit)(struct broker_plugin_handle *h);

	/*
	 * ABI 1.1.  count clients reached a listener but never became a stream
	 * (one closed before it was accepted, a bridge or descriptor could not
	 * be made): the core logs reason against whatever owns the listener (a
	 * route) and counts them as connections and errors, so no client
	 * disappears without a trace.  Loop thread only, like accepted.  Check
	 * BROKER_HOST_HAS(host, accept_dropped) first.
	 */
	void (*accept_dropped)(struct broker_accept_sink *sink, unsigned count, const char *reason);
};

/* Whether the core's host table has a field appended after the plugin's ABI 1.0. */
#define BROKER_HOST_HAS(host, field)                                                   \
	((host)->struct_size >= offsetof(struct broker_host, field) + sizeof((host)->field) && \
	 (host)->field != NULL)

/* The entry point's type. */
typedef const struct broker_plugin *(*broker_plugin_entry_fn)(const struct broker_host *host);

/*
 * BROKER_PLUGIN_DEFINE(desc_var, host_var) exports the entry symbol.  When
 * the core loads the plugin, host_var (a `static const struct broker_host *`
 * the plugin declared before its callbacks) receives the host table.
 *
 *   static const struct broker_host *host;
 *   ...callbacks using host->log(h, ...)...
 *   static const struct broker_plugin my_plugin = { BROKER_PLUGIN_HEADER, ... };
 *   BROKER_PLUGIN_DEFINE(my_plugin, host)
 */
#define BROKER_PLUGIN_DEFINE(desc_var, host_var)                                        \
	BROKER_EXPORT const struct broker_plugin *broker_plugin_entry(                       \
		const struct broker_host *broker_host_table);                                   \
	BROKER_EXPORT const struct broker_plugin *broker_plugin_entry(                       \
		const struct broker_host *broker_host_table)                                    \
	{                                                                                    \
		(host_var) = broker_host_table;                                                  \
		return &(desc_var);                                                              \
	}

/* Initializer for the first three fields. */
#define BROKER_PLUGIN_HEADER \
	.struct_size = sizeof(struct broker_plugin), .abi_major = BROKER_ABI_MAJOR, \
	.abi_minor = BROKER_ABI_MINOR

#ifdef __cplusplus
}
#endif
#endif /* BROKER_PLUGIN_H */
