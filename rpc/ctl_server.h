/* ctl_server.h - the control RPC endpoint: NNG REP over ipc://RUNTIME/ctl.sock. */
#ifndef BROKER_CTL_SERVER_H
#define BROKER_CTL_SERVER_H

#include <stddef.h>
#include "rpc/rpc.h"

struct event_base;
struct ctl_server;

/*
 * Listen on url (ipc://DIR/ctl.sock).  The socket file is created with mode
 * 0600; every connecting pipe's peer uid must be ours or root, others are
 * closed and counted.  Requests are handed from NNG's threads to the loop
 * thread (locked queue + event_active) and dispatched there with table/ctx;
 * replies go back through NNG.  Oversized requests are dropped and counted.
 *
 * Threading: the caller must have called evthread_use_pthreads() (link
 * -levent_pthreads) BEFORE creating base, because NNG's threads wake the
 * loop with event_active(); on a base created earlier that call is not
 * thread-safe.  start and stop run on the loop thread; stop never calls
 * nng_fini().  If url's socket file answers, start fails with "another
 * brokerd is already listening on PATH" (-EADDRINUSE); a stale file is
 * removed; the runtime dir is created 0700 when missing.
 *
 * Counting: replies with status != OK and undecodable requests are in the
 * counters; messages larger than NNG_OPT_RECVMAXSZ are dropped by NNG
 * itself (it closes that connection) and NNG 1.5 gives no hook to count them.
 */
int ctl_server_start(struct event_base *base, const char *url, const struct rpc_method *table,
                     void *ctx, struct ctl_server **out, char *err, size_t errlen);
void ctl_server_stop(struct ctl_server *srv);
/* Methods that may answer later (rpc.h), looked up before the table; they hold one context while they wait. */
void ctl_server_set_deferrables(struct ctl_server *srv, const struct rpc_deferrable_method *table);
const struct rpc_counters *ctl_server_counters(const struct ctl_server *srv);
uint64_t ctl_server_rejected_peers(const struct ctl_server *srv);
/* Times the watchdog replaced a listener that stopped accepting (an NNG 1.5.2
 * bug triggered by a client closing mid-handshake; see ctl_server.c). */
uint64_t ctl_server_listener_restarts(const struct ctl_server *srv);

#endif
