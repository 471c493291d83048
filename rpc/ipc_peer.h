/* ipc_peer.h - who may connect to our NNG ipc sockets (control RPC, event feed). */
#ifndef BROKER_IPC_PEER_H
#define BROKER_IPC_PEER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <nng/nng.h>

/*
 * For an NNG_PIPE_EV_ADD_PRE callback: admit the pipe when its peer's uid is
 * ours or root's.  Otherwise count it in *rejected (before the pipe is
 * closed, so a peer that sees the close also sees the count), close it and
 * log "refused WHAT connection ..." under tag; WHAT is e.g. "a control".
 * Runs on NNG threads; log.c writes whole lines, so logging is safe there.
 */
bool ipc_peer_admit(nng_pipe p, atomic_uint_fast64_t *rejected, const char *tag, const char *what);

#endif
