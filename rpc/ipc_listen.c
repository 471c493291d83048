/* ipc_listen.c - open an owner-only NNG ipc listener with messages that name
 * the endpoint, the cause and the fix (shared by the control RPC and the
 * event feed, on every OS). */
#include <config.h>

#include <errno.h>

#include "broker/errfmt.h"
#include "rpc/ipc_peer.h"

int ipc_nng_errno(int rv)
{
	if (rv & NNG_ESYSERR)
		return rv & ~NNG_ESYSERR;
	switch (rv) {
	case NNG_ENOMEM: return ENOMEM;
	case NNG_EADDRINUSE: return EADDRINUSE;
	case NNG_EPERM: return EACCES;
	case NNG_ENOENT: return ENOENT;
	case NNG_EADDRINVAL: return EINVAL;
	case NNG_EINVAL: return EINVAL;
	default: return EIO;
	}
}

int ipc_listener_open(nng_socket sock, const char *url, const char *name, const struct ipc_listen_words *w,
                      nng_listener *out, char *err, size_t errlen)
{
	const char *what;
	int rv;

	if ((rv = nng_listener_create(out, sock, url)) != 0)
		return errfmt(err, errlen, -ipc_nng_errno(rv), "%s socket %s: %s", w->kind, url, nng_strerror(rv));
	/* Before start, so the endpoint never exists with wider access than the owner's. */
	if ((rv = ipc_listener_restrict(*out, &what)) != 0) {
		nng_listener_close(*out);
		return errfmt(err, errlen, -ipc_nng_errno(rv), "%s socket %s: cannot set %s: %s", w->kind, url, what,
		              nng_strerror(rv));
	}
	if ((rv = nng_listener_start(*out, 0)) != 0) {
		nng_listener_close(*out);
		if (rv == NNG_EADDRINUSE)
			return errfmt(err, errlen, -EADDRINUSE, "another brokerd is already %s on %s", w->doing, name);
		if (rv == NNG_EPERM)
			return errfmt(err, errlen, -EACCES, "cannot listen on %s: permission denied (pass --runtime-dir)",
			              name);
		return errfmt(err, errlen, -ipc_nng_errno(rv), "cannot listen on %s: %s", name, nng_strerror(rv));
	}
	return 0;
}
