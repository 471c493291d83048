/* ipc_peer.h - listening on local NNG ipc:// endpoints (control RPC, event
 * feed): who may connect, what a listener leaves behind.  One implementation
 * per OS: ipc_peer.c (a Unix socket file, mode 0600, peer-uid check) and
 * ipc_peer_win32.c (a named pipe with a current-user security descriptor).
 * Where the endpoints are named is in runtime_dir.h. */
#ifndef BROKER_IPC_PEER_H
#define BROKER_IPC_PEER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <nng/nng.h>

/* How ipc_listen_prepare words its messages. */
struct ipc_listen_words {
	const char *kind;     /* "control", "event" */
	const char *doing;    /* "listening", "publishing events" */
	const char *tag;      /* log tag */
	bool make_parent;     /* create the socket's directory (0700) first */
	/* Opens a socket of a protocol that can dial this endpoint (probe). */
	int (*probe_open)(nng_socket *s);
};

/*
 * Before listening on url (name from runtime_dir_local_name): with
 * make_parent, create the socket's directory (0700) or refuse it unless it is
 * ours alone (a directory, not a symlink, owned by us, mode 0700: another
 * user could swap the socket otherwise); refuse a live listener ("another
 * brokerd is already DOING on NAME"), clear what a dead one left behind (a
 * stale socket file).  0 or -errno with err.  (Windows: pipes, no directory.)
 */
int ipc_listen_prepare(const char *url, const char *name, const struct ipc_listen_words *w, char *err,
                       size_t errlen);

/* Before nng_listener_start: owner-only access (mode 0600 / a current-user
 * security descriptor).  An NNG error; *what names the setting for messages. */
int ipc_listener_restrict(nng_listener l, const char **what);

/* An NNG error as a positive errno value. */
int ipc_nng_errno(int rv);

/*
 * Create, restrict (ipc_listener_restrict) and start a listener on url;
 * name is the endpoint as people know it (socket path, pipe name).  Errors
 * name it: "another brokerd is already listening on NAME", "permission
 * denied (pass --runtime-dir)".  (ipc_listen.c, shared by every OS.)
 */
int ipc_listener_open(nng_socket sock, const char *url, const char *name, const struct ipc_listen_words *w,
                      nng_listener *out, char *err, size_t errlen);

/* After the listener closed: remove what it leaves behind (the socket file). */
void ipc_listen_cleanup(const char *name, const char *tag);

/*
 * For an NNG_PIPE_EV_ADD_PRE callback: admit the pipe when its peer's uid is
 * ours or root's.  Otherwise count it in *rejected (before the pipe is
 * closed, so a peer that sees the close also sees the count), close it and
 * log "refused WHAT connection ..." under tag; WHAT is e.g. "a control".
 * Runs on NNG threads; log.c writes whole lines, so logging is safe there.
 * (Windows: always admits; the pipe's security descriptor did the check.)
 */
bool ipc_peer_admit(nng_pipe p, atomic_uint_fast64_t *rejected, const char *tag, const char *what);

#endif
