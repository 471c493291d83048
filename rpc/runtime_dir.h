/* runtime_dir.h - where brokerd keeps its control socket, event feed and
 * state, shared by brokerd and brokerctl so both sides always agree without
 * either duplicating the rule.  One implementation per OS: runtime_dir.c
 * (Unix socket files in a directory) and runtime_dir_win32.c (named pipes
 * \\.\pipe\PREFIX-ctl and PREFIX-events; --runtime-dir names PREFIX). */
#ifndef BROKER_RUNTIME_DIR_H
#define BROKER_RUNTIME_DIR_H

#include <stdbool.h>

/* File name of the control socket inside the runtime dir. */
#define RUNTIME_CTL_SOCKET "ctl.sock"
/* File name of the event feed socket inside the runtime dir. */
#define RUNTIME_EVENTS_SOCKET "events.sock"

/*
 * The built-in default runtime dir (malloc'd, NULL on out of memory):
 * $XDG_RUNTIME_DIR/broker if set and absolute, /run/broker for root,
 * /tmp/broker-UID otherwise (Windows: the pipe prefix broker-USER).  Flags
 * and BROKER_RUNTIME_DIR are applied by the caller, which knows its own
 * precedence rules.
 */
char *runtime_dir_default(void);

/*
 * The built-in default state dir (malloc'd, NULL on out of memory):
 * /var/lib/broker for root, $XDG_STATE_HOME/broker, ~/.local/state/broker
 * (Windows: %LOCALAPPDATA%\broker).
 */
char *runtime_dir_state_default(void);

/* The built-in plugin dir and config file: POSIX returns the configured
 * path it is given; Windows, where install prefixes mean nothing, returns
 * DIR\\plugins and DIR\\brokerd.json next to the running .exe.  Static
 * strings. */
const char *runtime_dir_plugin_default(const char *configured);
const char *runtime_dir_config_default(const char *configured);

/* Is a runtime dir a directory (POSIX: relative ones are resolved against the
 * working directory), or a name (Windows: a pipe name prefix, kept as given)? */
bool runtime_dir_is_path(void);
/* A runtime dir from a flag or the environment as it is used: POSIX, an
 * absolute path (a relative one is taken from the working directory);
 * Windows, as given.  malloc'd; NULL when out of memory or the working
 * directory cannot be read. */
char *runtime_dir_resolve(const char *dir);

/* "ipc://DIR/ctl.sock" (Windows: "ipc://PREFIX-ctl"); malloc'd, NULL on out of memory. */
char *runtime_dir_ctl_url(const char *dir);

/* "ipc://DIR/events.sock" (Windows: "ipc://PREFIX-events"); malloc'd, NULL on out of memory. */
char *runtime_dir_events_url(const char *dir);

/* The form a local ipc URL takes here, for messages ("ipc:///absolute/path"). */
const char *ipc_url_form(void);

/*
 * The name messages use for the endpoint at url: the socket file
 * ("ipc:///run/x/ctl.sock" -> "/run/x/ctl.sock") or the pipe
 * ("ipc://broker-me-ctl" -> "\\.\pipe\broker-me-ctl").  Malloc'd; NULL when
 * url is not a local ipc URL of this OS (*bad_form) or out of memory.
 */
char *ipc_url_local_name(const char *url, bool *bad_form);

/* Client side, before dialing: 0 when something may listen at name (the
 * socket file exists; always 0 for a pipe: the dial's error decides), else
 * -errno (-ENOENT: nothing there, -EACCES). */
int ipc_local_name_check(const char *name);

/*
 * Client side, before sending anything to the endpoint at name: it must be
 * the broker's of this user.  The socket must be a socket owned by us or
 * root, in a directory that is not a symlink, is owned by us or root and
 * that nobody else can write to (else its owner is not who answers).  Root
 * may talk to any user's broker whose socket belongs to the directory's
 * owner.  0, or -EPERM with err naming what is wrong.  (Windows: 0; the pipe
 * carries the broker's security descriptor.)
 */
int ipc_local_owner_check(const char *name, char *err, size_t errlen);

/* True when a refused ipc dial means nothing listens (Windows: NNG reports a
 * missing pipe so), false when it means a stale socket file (POSIX). */
bool ipc_refused_means_absent(void);

#endif
