/* ipc_peer.c - the peer-uid check shared by the control RPC and the event feed. */
#include "config.h"

#include <stdint.h>
#include <unistd.h>

#include "rpc/ipc_peer.h"
#include "broker/log.h"

bool ipc_peer_admit(nng_pipe p, atomic_uint_fast64_t *rejected, const char *tag, const char *what)
{
	uint64_t uid = UINT64_MAX;
	int rv = nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid);

	if (rv == 0 && (uid == (uint64_t)geteuid() || uid == 0))
		return true;
	atomic_fetch_add(rejected, 1);
	nng_pipe_close(p);
	if (rv != 0)
		log_warn(tag, "refused %s connection: peer uid unknown (%s)", what, nng_strerror(rv));
	else
		log_warn(tag, "refused %s connection from uid %llu (only uid %lu and root may connect)", what,
		         (unsigned long long)uid, (unsigned long)geteuid());
	return false;
}
