/*
 * tests/windows/pipe_semantics.c - the named-pipe server semantics the npipe
 * plugin relies on, shown one case at a time on whatever runs it (wine or
 * Windows).  Each case prints what the OS answered; the exit status says
 * whether the answers are ones plugins/npipe/npipe.c handles (0 yes, 1 no).
 *
 *   early-client   a client connects between CreateNamedPipe and
 *                  ConnectNamedPipe: ConnectNamedPipe fails with
 *                  ERROR_PIPE_CONNECTED; what GetOverlappedResult(FALSE)
 *                  then says about that OVERLAPPED (Windows documents no
 *                  completion for it: the I/O status block keeps the
 *                  STATUS_PENDING that ConnectNamedPipe wrote, so
 *                  ERROR_IO_INCOMPLETE); the client still works.
 *   early-gone     a client connects and closes before ConnectNamedPipe:
 *                  ConnectNamedPipe fails with ERROR_NO_DATA; after
 *                  DisconnectNamedPipe the instance takes the next client.
 *   disconnect     what a client sees at its first ReadFile when the server
 *                  calls DisconnectNamedPipe on its connected instance
 *                  (ERROR_PIPE_NOT_CONNECTED, 233: the symptom of issue 15).
 *
 * Usage: pipe_semantics [CASE...]   (no case: all of them)
 */
#include <stdio.h>
#include <string.h>

#include <windows.h>

static WCHAR name[128];
static int bad;

static HANDLE server(void)
{
	return CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
	                        PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT, PIPE_UNLIMITED_INSTANCES,
	                        4096, 4096, 0, NULL);
}

static HANDLE client(void)
{
	return CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
}

static const char *errname(DWORD e)
{
	switch (e) {
	case 0: return "0";
	case ERROR_IO_PENDING: return "ERROR_IO_PENDING";
	case ERROR_IO_INCOMPLETE: return "ERROR_IO_INCOMPLETE";
	case ERROR_PIPE_CONNECTED: return "ERROR_PIPE_CONNECTED";
	case ERROR_NO_DATA: return "ERROR_NO_DATA";
	case ERROR_PIPE_NOT_CONNECTED: return "ERROR_PIPE_NOT_CONNECTED";
	case ERROR_BROKEN_PIPE: return "ERROR_BROKEN_PIPE";
	case ERROR_PIPE_LISTENING: return "ERROR_PIPE_LISTENING";
	default: return "other";
	}
}

static void say(const char *what, BOOL ok, DWORD e)
{
	printf("  %-44s -> %s, error %lu (%s)\n", what, ok ? "TRUE" : "FALSE", ok ? 0ul : (unsigned long)e,
	       ok ? "0" : errname(e));
}

static void early_client(void)
{
	OVERLAPPED ov;
	HANDLE s = server(), c;
	DWORD e, got = 0, n = 0;
	BOOL ok;
	char buf[8];

	printf("early-client: a client connects before ConnectNamedPipe\n");
	c = client();
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
	ok = ConnectNamedPipe(s, &ov);
	e = GetLastError();
	say("ConnectNamedPipe(overlapped)", ok, e);
	if (ok || e != ERROR_PIPE_CONNECTED)
		bad = 1;
	printf("  %-44s -> %s\n", "its event", WaitForSingleObject(ov.hEvent, 0) == WAIT_OBJECT_0 ? "signaled" : "not signaled");
	printf("  %-44s -> 0x%08lx%s\n", "OVERLAPPED.Internal (NTSTATUS)", (unsigned long)ov.Internal,
	       ov.Internal == 0x103 ? " (STATUS_PENDING)" : "");
	ok = GetOverlappedResult(s, &ov, &got, FALSE);
	say("GetOverlappedResult(bWait=FALSE)", ok, GetLastError());
	printf("  (npipe.c before the fix disconnected the client unless this said TRUE or ERROR_PIPE_CONNECTED)\n");
	/* The client is connected all the same: a byte goes through. */
	ok = WriteFile(c, "x", 1, &n, NULL);
	say("client WriteFile(1 byte)", ok, GetLastError());
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
	ok = ReadFile(s, buf, sizeof(buf), NULL, &ov);
	if (!ok && GetLastError() == ERROR_IO_PENDING)
		ok = GetOverlappedResult(s, &ov, &got, TRUE);
	else if (ok)
		ok = GetOverlappedResult(s, &ov, &got, TRUE);
	say("server ReadFile", ok, GetLastError());
	if (!ok || got != 1)
		bad = 1;
	CloseHandle(c);
	CloseHandle(s);
}

static void early_gone(void)
{
	OVERLAPPED ov;
	HANDLE s = server(), c;
	DWORD e;
	BOOL ok;

	printf("early-gone: a client connects and closes before ConnectNamedPipe\n");
	c = client();
	CloseHandle(c);
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
	ok = ConnectNamedPipe(s, &ov);
	e = GetLastError();
	say("ConnectNamedPipe(overlapped)", ok, e);
	if (!ok && e != ERROR_NO_DATA && e != ERROR_PIPE_CONNECTED)
		bad = 1;
	ok = DisconnectNamedPipe(s);
	say("DisconnectNamedPipe", ok, GetLastError());
	ResetEvent(ov.hEvent);
	ok = ConnectNamedPipe(s, &ov);
	e = GetLastError();
	say("ConnectNamedPipe again (no client yet)", ok, e);
	if (ok || e != ERROR_IO_PENDING)
		bad = 1;
	c = client();
	say("next client CreateFile", c != INVALID_HANDLE_VALUE, GetLastError());
	printf("  %-44s -> %s\n", "the instance's event", WaitForSingleObject(ov.hEvent, 1000) == WAIT_OBJECT_0 ? "signaled" : "not signaled");
	if (c == INVALID_HANDLE_VALUE)
		bad = 1;
	CloseHandle(c);
	CloseHandle(s);
}

static void disconnect(void)
{
	OVERLAPPED ov;
	HANDLE s = server(), c;
	DWORD got = 0;
	BOOL ok;
	char buf[8];

	printf("disconnect: the server disconnects a connected client\n");
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
	ConnectNamedPipe(s, &ov);
	c = client();
	GetOverlappedResult(s, &ov, &got, TRUE);
	ok = DisconnectNamedPipe(s);
	say("DisconnectNamedPipe", ok, GetLastError());
	ok = ReadFile(c, buf, sizeof(buf), &got, NULL);
	say("client's first ReadFile", ok, GetLastError());
	CloseHandle(c);
	CloseHandle(s);
}

int main(int argc, char **argv)
{
	int i, all = argc < 2;

	_snwprintf(name, 128, L"\\\\.\\pipe\\pipe-semantics-%lu", (unsigned long)GetCurrentProcessId());
	setvbuf(stdout, NULL, _IONBF, 0);
	for (i = all ? 0 : 1; i < (all ? 1 : argc); i++) {
		if (all || strcmp(argv[i], "early-client") == 0)
			early_client();
		if (all || strcmp(argv[i], "early-gone") == 0)
			early_gone();
		if (all || strcmp(argv[i], "disconnect") == 0)
			disconnect();
	}
	printf("%s\n", bad ? "unexpected answers (see above)" : "answers as npipe.c expects");
	return bad;
}
