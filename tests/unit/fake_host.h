/*
 * tests/unit/fake_host.h - a fake core for the plugin unit tests: loads a
 * plugin .so with dlopen, hands it a struct broker_host whose calls are
 * recorded, and runs a real event_base.
 *
 * What it records (in `fh`, cleared by every fh_init):
 *  - every log line (fh.log) and how many were WARN or worse;
 *  - mapping calls, two ways: fh.calls, one line a call ("set OWNER12 n=N
 *    (desc) tcp IP:PORT>A|B", "remove OWNER12", "begin", "commit"), and the
 *    current mappings per owner (fh_owner()), with resync_commit dropping
 *    the owners not set since resync_begin, as the core does;
 *  - streams: host->accepted() fills the struct broker_accept_sink the test
 *    passed to listen, connected()/connect_failed() the broker_connect_req
 *    it passed to connect (both structs are defined here, for the test).
 * Options: the plugin's defaults, overridden per plugin by "name=value"
 * strings (fh_init, fh_option).  Timers are real events on the base and are
 * released before the plugin's stop, like the core releases them.
 *
 * Lines are echoed to stderr up to fh_echo_level (default: all);
 * FH_VERBOSE=1 in the environment echoes all of them anyway.
 */
#ifndef BROKER_TESTS_FAKE_HOST_H
#define BROKER_TESTS_FAKE_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "broker/plugin.h"

struct event_base;

/* ------------------------------------------------------------- streams */

#define FH_MAX_ACCEPT 16

/* What a listener delivered: the first FH_MAX_ACCEPT streams (later ones are closed). */
struct broker_accept_sink {
	int n;
	int fds[FH_MAX_ACCEPT];
	char peer[FH_MAX_ACCEPT][128];
	uint32_t flags;             /* of the last stream */
};

/* The outcome of one connect. */
struct broker_connect_req {
	int calls;                  /* connected + connect_failed calls */
	int ok;
	int rfd, wfd;
	uint32_t flags;
	void (*on_close)(void *);
	void *close_arg;
	int error;
	char reason[512];
	char peer[256];
};

/* Close what the sink holds and empty it. */
void fh_sink_close(struct broker_accept_sink *sink);

/* ------------------------------------------------------------- record */

#define FH_MAX_OWNERS 256

struct fh_owner {
	char owner[200];
	char desc[600];
	char text[2048];   /* "tcp 0.0.0.0:8080 -> 127.0.0.1:8080 [::1]:8080; udp ..." */
	char spec[2048];   /* "tcp:0.0.0.0:8080>127.0.0.1:8080,[::1]:8080;udp:...;" */
	int seen;          /* set since resync_begin */
};

struct fh_record {
	int sets, removes, begins, commits;
	int refused;                /* mapping_set calls with an invalid mapping (-EINVAL) */
	int in_resync;
	int nowners;
	struct fh_owner owners[FH_MAX_OWNERS];
	int warnings;               /* log lines at WARN or worse */
	size_t loglen;
	char log[1 << 20];          /* every log line, newline-terminated */
	size_t callslen;
	char calls[1 << 16];        /* mapping calls, one per line */
};

extern struct fh_record fh;
extern int fh_echo_level;     /* echo log lines up to this level to stderr; -1: none */

void fh_reset(void);
void fh_calls_clear(void);
struct fh_owner *fh_owner(const char *owner);
const char *fh_text(const char *owner);   /* the owner's text, or NULL */

/* ------------------------------------------------------------- plugin */

#define FH_MAX_OPTS 8

/* One loaded plugin; plugins see it as their struct broker_plugin_handle. */
struct fh_plugin {
	void *dl;
	const struct broker_plugin *p;
	void *state;
	struct event_base *base;
	int inited, started;
	char opt[FH_MAX_OPTS][512];   /* "name=value" overrides; "" unused */
};

/* dlopen path and call its entry with the fake host.  0, or -1 (with a diag line). */
int fh_open(struct fh_plugin *P, const char *path, struct event_base *base);
/* Fresh record, the overrides in opts (NULL-terminated "name=value", may be NULL), init. */
int fh_init(struct fh_plugin *P, const char *const *opts, char *err, size_t errlen);
/* start; when it fails, fini. */
int fh_start(struct fh_plugin *P, char *err, size_t errlen);
/* fh_init + fh_start. */
int fh_up(struct fh_plugin *P, const char *const *opts, char *err, size_t errlen);
/* fh_open + fh_up; a failure is told in a diag line.  -1 when dlopen fails. */
int fh_load(struct fh_plugin *P, const char *path, struct event_base *base, const char *const *opts,
            char *err, size_t errlen);
/* As the core stops a plugin: release its timers, stop, fini.  The .so stays open. */
void fh_down(struct fh_plugin *P);
/* fh_down + dlclose; P is zeroed. */
void fh_close(struct fh_plugin *P);
/* Override option name (value NULL: back to the default), also while the plugin runs. */
void fh_option(struct fh_plugin *P, const char *name, const char *value);

/*
 * For the shared plugin blocks (plugins/common/) compiled into a test: the
 * fake host table, and a handle for a plugin that was never dlopened (p
 * gives its name for log lines and its option defaults).
 */
const struct broker_host *fh_host(void);
void fh_bare(struct fh_plugin *P, const struct broker_plugin *p, struct event_base *base);

/* argv[i], else $env, else $top_builddir/plugins/NAME/.libs/NAME.so (in buf). */
const char *fh_plugin_path(int argc, char **argv, int i, const char *env, const char *name,
                           char *buf, size_t len);

void fh_url(struct broker_url *u, const char *scheme, const char *address,
            const struct broker_url_param *params, size_t nparams);

/* ------------------------------------------------------------- loop */

/* An event_base with a 5 ms tick, so a loop iteration never sleeps longer. */
struct event_base *fh_base_new(void);
void fh_base_free(struct event_base *base);

long long fh_now_ms(void);
void fh_run_for(struct event_base *base, int ms);
/* Run until done(arg) or ms pass; done's last answer. */
int fh_run_until(struct event_base *base, int (*done)(void *arg), void *arg, int ms);
int fh_wait_int(struct event_base *base, const int *v, int want, int ms);   /* *v >= want */
int fh_wait_log(struct event_base *base, const char *needle, int ms);
int fh_wait_calls(struct event_base *base, const char *needle, int ms);
int fh_wait_owner(struct event_base *base, const char *owner, int present, int ms);

#endif
