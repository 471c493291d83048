/* ipc_watchdog.h - keep an NNG ipc listener accepting (control RPC, event
 * feed), on a thread of its own so that nothing NNG may block on ever runs
 * on the event loop.
 *
 * NNG 1.5.2 has two bugs we live with.  Its ipc listener stops accepting for
 * good when a peer closes before the SP handshake ends (any connect() and
 * close(), or random bytes): the watchdog dials the listener once a second
 * and replaces it when no pipe arrived.  And nng_close of a socket with a
 * dial in progress can wait forever (seen after the loop stalled for a few
 * seconds; NNG issue 1543, fixed after 1.5.2): the probe is closed on the
 * watchdog's thread, so a stuck close stops only the watchdog, never the
 * loop or the broker's shutdown, which waits for it at most
 * IPC_WATCHDOG_STOP_MS. */
#ifndef BROKER_IPC_WATCHDOG_H
#define BROKER_IPC_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>
#include <nng/nng.h>

#include "rpc/ipc_peer.h"

#define IPC_WATCHDOG_MS 1000
#define IPC_WATCHDOG_STOP_MS 2000

struct ipc_watchdog;

/*
 * A watchdog for the listeners of sock on url (name is the endpoint as
 * people know it).  Create it before the listener, so the socket's pipe
 * callback can count pipes from the start.  words must outlive it.  0 or
 * -errno with err.
 */
int ipc_watchdog_new(nng_socket sock, const char *url, const char *name, const struct ipc_listen_words *words,
                     struct ipc_watchdog **out, char *err, size_t errlen);
/* Start watching listener (started on the socket); from here on the watchdog
 * owns it: it closes and reopens it with ipc_listener_open.  0 or -errno. */
int ipc_watchdog_run(struct ipc_watchdog *wd, nng_listener listener, char *err, size_t errlen);
/* From the socket's NNG_PIPE_EV_ADD_PRE callback (any thread): a pipe arrived. */
void ipc_watchdog_pipe_added(struct ipc_watchdog *wd);
/* Listeners replaced so far. */
uint64_t ipc_watchdog_restarts(const struct ipc_watchdog *wd);
/*
 * Stop the thread: waits for it at most IPC_WATCHDOG_STOP_MS; a thread stuck
 * in NNG is left behind.  Call it before closing the socket.  NULL is fine.
 */
void ipc_watchdog_stop(struct ipc_watchdog *wd);
/* After the socket is closed (no pipe callback can run any more). NULL is fine. */
void ipc_watchdog_free(struct ipc_watchdog *wd);

/*
 * nng_close(sock) on a helper thread, waiting at most ms: true when it
 * returned in time.  On false the close is still running (stuck in NNG):
 * the caller must not free what the socket still uses (its aios).
 */
bool ipc_close_bounded(nng_socket sock, int ms, const char *tag, const char *what);

#endif
