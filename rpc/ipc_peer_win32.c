/* ipc_peer_win32.c - listening on local ipc:// endpoints on Windows: NNG
 * named pipes created with a security descriptor that admits the current
 * user and SYSTEM only (see ipc_peer.h).  No peer-uid check: the
 * descriptor does that job.  (Wine does not enforce DACLs.) */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>
#include <windows.h>
#include <sddl.h>

#include "rpc/ipc_peer.h"
#include "broker/errfmt.h"
#include "broker/log.h"

int ipc_listen_prepare(const char *url, const char *name, const struct ipc_listen_words *w, char *err,
                       size_t errlen)
{
	nng_socket probe;
	int rv;

	/* A pipe has no file to go stale; a live broker answers a dial (FIRST_PIPE_INSTANCE is not enough: wine ignores it). */
	if ((rv = w->probe_open(&probe)) != 0)
		return errfmt(err, errlen, -ENOMEM, "cannot open a probe socket: %s", nng_strerror(rv));
	rv = nng_dial(probe, url, NULL, 0);
	nng_close(probe);
	if (rv == 0)
		return errfmt(err, errlen, -EADDRINUSE, "another brokerd is already %s on %s", w->doing, name);
	return 0;
}

/* "D:P(A;;GA;;;<current user SID>)(A;;GA;;;SY)", made once and kept: NNG
 * keeps the pointer and uses it for every pipe instance it creates. */
static PSECURITY_DESCRIPTOR current_user_sd(void)
{
	static PSECURITY_DESCRIPTOR sd;
	static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
	BOOL pending;
	HANDLE tok = NULL;
	BYTE buf[256];
	DWORD len = 0;
	wchar_t *sid = NULL, sddl[256];

	if (!InitOnceBeginInitialize(&once, 0, &pending, NULL))
		return NULL;
	if (!pending)
		return sd;
	if (OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) {
		if (GetTokenInformation(tok, TokenUser, buf, sizeof(buf), &len) &&
		    ConvertSidToStringSidW(((TOKEN_USER *)buf)->User.Sid, &sid)) {
			_snwprintf(sddl, sizeof(sddl) / sizeof(sddl[0]), L"D:P(A;;GA;;;%ls)(A;;GA;;;SY)", sid);
			sddl[sizeof(sddl) / sizeof(sddl[0]) - 1] = 0;
			if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, NULL))
				sd = NULL;
			LocalFree(sid);
		}
		CloseHandle(tok);
	}
	InitOnceComplete(&once, 0, NULL);
	return sd;
}

int ipc_listener_restrict(nng_listener l, const char **what)
{
	PSECURITY_DESCRIPTOR sd = current_user_sd();

	*what = "the current-user security descriptor";
	if (!sd)
		return NNG_ENOMEM;
	return nng_listener_set_ptr(l, NNG_OPT_IPC_SECURITY_DESCRIPTOR, sd);
}

void ipc_listen_cleanup(const char *name, const char *tag)
{
	/* Named pipes vanish with their last handle. */
	(void)name;
	(void)tag;
}

bool ipc_peer_admit(nng_pipe p, atomic_uint_fast64_t *rejected, const char *tag, const char *what)
{
	/* The pipe's security descriptor admitted this peer already. */
	(void)p;
	(void)rejected;
	(void)tag;
	(void)what;
	return true;
}
