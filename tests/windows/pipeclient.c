/*
 * tests/windows/pipeclient.c - a small named-pipe client for the Windows
 * tests (runs under wine or on Windows).
 *
 *   pipeclient PIPE get-version       send "GET /version HTTP/1.0", print the reply
 *   pipeclient PIPE send BYTES [--expect echo] [--seed N]
 *                                     send BYTES deterministic bytes, half-close
 *                                     with a zero-byte message (byte mode: stop
 *                                     writing), read everything back; print
 *                                     "sent N crc64=X received M crc64=Y secs"
 *   pipeclient PIPE sddl              print the pipe's security descriptor (SDDL)
 *   pipeclient PIPE burst N           open N clients at once (holding them),
 *                                     print "opened K busy B other O"
 *   pipeclient PIPE multi N BYTES [--quit K]
 *                                     N clients at once, one thread each, each
 *                                     sends BYTES (seed = its number) and checks
 *                                     the echo (length and crc64); K more connect
 *                                     and close at once, spread among them; print
 *                                     "clients N ok K failed F quitters Q connected C"
 *                                     and a line per failed client
 *   pipeclient NAME wedge SECONDS     a wedged server: create \\.\pipe\NAME with one
 *                                     instance, take it with our own client and
 *                                     never make another (every dial sees
 *                                     ERROR_PIPE_BUSY); print "wedged" and hold
 *   pipeclient - canon SDDL           print SDDL in the canonical form Windows
 *                                     reads back (for comparisons)
 *   pipeclient - usersid              print the current user's SID
 *
 * PIPE: \\.\pipe\NAME, //./pipe/NAME or NAME.  BYTES may end in K, M or G.
 * Options: --timeout MS (waiting for a busy pipe, default 10000; multi: 60000),
 * --byte (do not switch to message read mode), --no-retry (burst:
 * ERROR_PIPE_BUSY counts as busy instead of waiting with WaitNamedPipe),
 * --quit K (multi).
 * Exit status: 0 success, 1 failure (message on stderr), 2 usage.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h>
#include <sddl.h>
#include <aclapi.h>

static WCHAR wpath[300];
static int msg_mode;          /* the pipe reads in message mode */
static DWORD timeout_ms = 10000;
static int force_byte;
static int no_retry;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("pipeclient: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* ------------------------------------------------------------- crc64 (ECMA-182, reflected) */

static uint64_t crc_table[256];

static void crc_init(void)
{
	for (int i = 0; i < 256; i++) {
		uint64_t c = (uint64_t)i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0xC96C5795D7870F42ULL : c >> 1;
		crc_table[i] = c;
	}
}

static uint64_t crc64(uint64_t crc, const unsigned char *p, size_t n)
{
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ------------------------------------------------------------- pipe */

static void set_path(const char *s)
{
	char tmp[300];
	size_t i;

	for (i = 0; s[i] && i + 1 < sizeof(tmp); i++)
		tmp[i] = s[i] == '/' ? '\\' : s[i];
	tmp[i] = '\0';
	if (strncmp(tmp, "\\\\.\\pipe\\", 9) != 0) {
		char t2[300];

		snprintf(t2, sizeof(t2), "\\\\.\\pipe\\%s", tmp);
		strcpy(tmp, t2);
	}
	MultiByteToWideChar(CP_UTF8, 0, tmp, -1, wpath, 300);
}

/* Open the pipe, waiting for a busy one up to timeout_ms; *msg: switched to message reads.
 * Thread-safe; on failure GetLastError() says why. */
static HANDLE open_pipe_ex(DWORD access, int wait_busy, int *msg)
{
	ULONGLONG deadline = GetTickCount64() + timeout_ms;
	HANDLE h;
	DWORD flags = 0, mode;

	*msg = 0;
	for (;;) {
		h = CreateFileW(wpath, access, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
		if (h != INVALID_HANDLE_VALUE)
			break;
		if (GetLastError() != ERROR_PIPE_BUSY || !wait_busy || GetTickCount64() > deadline)
			return INVALID_HANDLE_VALUE;
		WaitNamedPipeW(wpath, 200);
	}
	if ((access & GENERIC_READ) && GetNamedPipeInfo(h, &flags, NULL, NULL, NULL) &&
	    (flags & PIPE_TYPE_MESSAGE) && !force_byte) {
		mode = PIPE_READMODE_MESSAGE;
		if (!SetNamedPipeHandleState(h, &mode, NULL, NULL)) {
			DWORD e = GetLastError();

			CloseHandle(h);
			SetLastError(e);
			return INVALID_HANDLE_VALUE;
		}
		*msg = 1;
	}
	return h;
}

static HANDLE open_pipe(DWORD access, int wait_busy)
{
	return open_pipe_ex(access, wait_busy, &msg_mode);
}

static HANDLE open_or_die(void)
{
	HANDLE h = open_pipe(GENERIC_READ | GENERIC_WRITE, 1);

	if (h == INVALID_HANDLE_VALUE)
		die("cannot open %ls: error %lu", wpath, GetLastError());
	return h;
}

/* Overlapped read; returns bytes, 0 at EOF (zero-byte message or broken pipe), -1 on error. */
static long pread_ov(HANDLE h, void *buf, DWORD len)
{
	OVERLAPPED ov;
	DWORD n = 0, e;
	BOOL ok;

	memset(&ov, 0, sizeof(ov));
	ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
	ok = ReadFile(h, buf, len, NULL, &ov);
	if (!ok && (e = GetLastError()) != ERROR_IO_PENDING && e != ERROR_MORE_DATA) {
		CloseHandle(ov.hEvent);
		return e == ERROR_BROKEN_PIPE || e == ERROR_PIPE_NOT_CONNECTED ? 0 : -1;
	}
	ok = GetOverlappedResult(h, &ov, &n, TRUE);
	e = ok ? 0 : GetLastError();
	CloseHandle(ov.hEvent);
	if (!ok && e == ERROR_MORE_DATA)
		return (long)n;
	if (!ok)
		return e == ERROR_BROKEN_PIPE || e == ERROR_PIPE_NOT_CONNECTED ? 0 : -1;
	return (long)n;
}

static int pwrite_ov(HANDLE h, const void *buf, DWORD len)
{
	OVERLAPPED ov;
	DWORD n = 0;
	BOOL ok;

	memset(&ov, 0, sizeof(ov));
	ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
	ok = WriteFile(h, buf, len, NULL, &ov);
	if (ok || GetLastError() == ERROR_IO_PENDING)
		ok = GetOverlappedResult(h, &ov, &n, TRUE);
	CloseHandle(ov.hEvent);
	return ok && n == len ? 0 : -1;
}

/* ------------------------------------------------------------- get-version */

static int cmd_get_version(void)
{
	HANDLE h = open_or_die();
	static char buf[1 << 16];
	const char *req = "GET /version HTTP/1.0\r\nHost: docker\r\n\r\n";
	long n;

	if (pwrite_ov(h, req, (DWORD)strlen(req)) < 0)
		die("write: error %lu", GetLastError());
	while ((n = pread_ov(h, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	if (n < 0)
		die("read: error %lu", GetLastError());
	fflush(stdout);
	CloseHandle(h);
	return 0;
}

/* ------------------------------------------------------------- send */

struct sender {
	HANDLE h;
	uint64_t bytes;
	uint64_t seed;
	uint64_t crc;
	int failed;
};

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static DWORD WINAPI send_thread(LPVOID arg)
{
	struct sender *s = arg;
	static unsigned char buf[65536];
	uint64_t left = s->bytes, st = s->seed * 0x9E3779B97F4A7C15ULL + 1;

	while (left > 0) {
		DWORD n = left < sizeof(buf) ? (DWORD)left : (DWORD)sizeof(buf);

		for (DWORD i = 0; i < n; i += 8) {
			uint64_t v = xorshift(&st);
			memcpy(buf + i, &v, n - i < 8 ? n - i : 8);
		}
		s->crc = crc64(s->crc, buf, n);
		if (pwrite_ov(s->h, buf, n) < 0) {
			fprintf(stderr, "pipeclient: write: error %lu\n", GetLastError());
			s->failed = 1;
			return 1;
		}
		left -= n;
	}
	/* Half-close: a zero-byte message (Docker's convention). */
	if (msg_mode && pwrite_ov(s->h, "", 0) < 0) {
		fprintf(stderr, "pipeclient: zero-byte write: error %lu\n", GetLastError());
		s->failed = 1;
	}
	return 0;
}

static uint64_t parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		die("bad size \"%s\"", s);
	switch (*end) {
	case 'k': case 'K': v *= 1024; break;
	case 'm': case 'M': v *= 1024 * 1024; break;
	case 'g': case 'G': v *= 1024.0 * 1024 * 1024; break;
	case '\0': break;
	default: die("bad size \"%s\"", s);
	}
	return (uint64_t)v;
}

static int cmd_send(uint64_t bytes, uint64_t seed, int expect_echo)
{
	struct sender s;
	static unsigned char buf[65536];
	uint64_t rx = 0, rcrc = 0;
	ULONGLONG t0 = GetTickCount64();
	HANDLE th;
	long n;

	memset(&s, 0, sizeof(s));
	s.h = open_or_die();
	s.bytes = bytes;
	s.seed = seed;
	th = CreateThread(NULL, 0, send_thread, &s, 0, NULL);
	if (!th)
		die("CreateThread: error %lu", GetLastError());
	while ((n = pread_ov(s.h, buf, sizeof(buf))) > 0) {
		rcrc = crc64(rcrc, buf, (size_t)n);
		rx += (uint64_t)n;
	}
	if (n < 0)
		die("read after %llu bytes: error %lu", (unsigned long long)rx, GetLastError());
	WaitForSingleObject(th, INFINITE);
	printf("sent %llu crc64=%016llx received %llu crc64=%016llx in %.2f s\n",
	       (unsigned long long)s.bytes, (unsigned long long)s.crc, (unsigned long long)rx,
	       (unsigned long long)rcrc, (double)(GetTickCount64() - t0) / 1000.0);
	fflush(stdout);
	CloseHandle(s.h);
	if (s.failed)
		return 1;
	if (expect_echo && (rx != s.bytes || rcrc != s.crc)) {
		fprintf(stderr, "pipeclient: echo mismatch\n");
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------- sddl, burst */

static int cmd_sddl(void)
{
	HANDLE h = CreateFileW(wpath, READ_CONTROL, 0, NULL, OPEN_EXISTING, 0, NULL);
	PSECURITY_DESCRIPTOR sd = NULL;
	LPSTR s = NULL;
	DWORD e;

	if (h == INVALID_HANDLE_VALUE)
		die("cannot open %ls for READ_CONTROL: error %lu", wpath, GetLastError());
	e = GetSecurityInfo(h, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL, NULL, NULL, &sd);
	if (e != ERROR_SUCCESS)
		die("GetSecurityInfo: error %lu", e);
	if (!ConvertSecurityDescriptorToStringSecurityDescriptorA(sd, SDDL_REVISION_1,
	                                                          DACL_SECURITY_INFORMATION, &s, NULL))
		die("ConvertSecurityDescriptorToStringSecurityDescriptor: error %lu", GetLastError());
	printf("%s\n", s);
	LocalFree(s);
	LocalFree(sd);
	CloseHandle(h);
	return 0;
}

static int cmd_burst(int n)
{
	HANDLE *hs = calloc((size_t)n, sizeof(*hs));
	int opened = 0, busy = 0, other = 0;

	for (int i = 0; i < n; i++) {
		hs[i] = open_pipe(GENERIC_READ | GENERIC_WRITE, !no_retry);
		if (hs[i] != INVALID_HANDLE_VALUE)
			opened++;
		else if (GetLastError() == ERROR_PIPE_BUSY)
			busy++;
		else
			other++;
	}
	printf("opened %d busy %d other %d\n", opened, busy, other);
	for (int i = 0; i < n; i++)
		if (hs[i] != INVALID_HANDLE_VALUE)
			CloseHandle(hs[i]);
	free(hs);
	return busy || other ? 1 : 0;
}

/* ------------------------------------------------------------- multi, wedge */

struct mclient {
	int n;                          /* its number, and the seed of its bytes */
	uint64_t bytes;
	int quit;                       /* connect and close at once */
	HANDLE start;                   /* manual-reset: everyone goes together */
	HANDLE h;
	int msg;
	uint64_t crc;                   /* of what the writer sent */
	int wfailed;
	DWORD werr;
	int ok;
	char why[200];
};

static DWORD WINAPI mclient_writer(LPVOID arg)
{
	struct mclient *c = arg;
	unsigned char *buf = malloc(65536);
	uint64_t left = c->bytes, st = (uint64_t)c->n * 0x9E3779B97F4A7C15ULL + 1;

	while (buf && left > 0) {
		DWORD n = left < 65536 ? (DWORD)left : 65536;

		for (DWORD i = 0; i < n; i += 8) {
			uint64_t v = xorshift(&st);
			memcpy(buf + i, &v, n - i < 8 ? n - i : 8);
		}
		c->crc = crc64(c->crc, buf, n);
		if (pwrite_ov(c->h, buf, n) < 0) {
			c->werr = GetLastError();
			c->wfailed = 1;
			break;
		}
		left -= n;
	}
	if (!buf)
		c->wfailed = 1;
	else if (!c->wfailed && c->msg && pwrite_ov(c->h, "", 0) < 0) {
		c->werr = GetLastError();
		c->wfailed = 1;
	}
	free(buf);
	return 0;
}

static DWORD WINAPI mclient_run(LPVOID arg)
{
	struct mclient *c = arg;
	unsigned char *buf;
	uint64_t rx = 0, rcrc = 0;
	HANDLE th;
	long n;

	WaitForSingleObject(c->start, INFINITE);
	c->h = open_pipe_ex(GENERIC_READ | GENERIC_WRITE, 1, &c->msg);
	if (c->h == INVALID_HANDLE_VALUE) {
		snprintf(c->why, sizeof(c->why), "open: error %lu", GetLastError());
		return 0;
	}
	if (c->quit) {
		CloseHandle(c->h);
		c->ok = 1;
		return 0;
	}
	buf = malloc(65536);
	th = buf ? CreateThread(NULL, 0, mclient_writer, c, 0, NULL) : NULL;
	if (!th) {
		snprintf(c->why, sizeof(c->why), "no memory or thread");
		CloseHandle(c->h);
		free(buf);
		return 0;
	}
	while ((n = pread_ov(c->h, buf, 65536)) > 0) {
		rcrc = crc64(rcrc, buf, (size_t)n);
		rx += (uint64_t)n;
	}
	if (n < 0)
		snprintf(c->why, sizeof(c->why), "read after %llu bytes: error %lu", (unsigned long long)rx,
		         GetLastError());
	WaitForSingleObject(th, INFINITE);
	CloseHandle(th);
	CloseHandle(c->h);
	free(buf);
	if (n < 0)
		return 0;
	if (c->wfailed)
		snprintf(c->why, sizeof(c->why), "write: error %lu (received %llu)", c->werr, (unsigned long long)rx);
	else if (rx != c->bytes || rcrc != c->crc)
		snprintf(c->why, sizeof(c->why), "echo mismatch: sent %llu crc64=%016llx, received %llu crc64=%016llx",
		         (unsigned long long)c->bytes, (unsigned long long)c->crc, (unsigned long long)rx,
		         (unsigned long long)rcrc);
	else
		c->ok = 1;
	return 0;
}

static int cmd_multi(int n, uint64_t bytes, int quit)
{
	int total = n + quit, ok = 0, failed = 0, qok = 0, i, qi = 0;
	struct mclient *cs = calloc((size_t)total, sizeof(*cs));
	HANDLE *ths = calloc((size_t)total, sizeof(*ths));
	HANDLE start = CreateEventW(NULL, TRUE, FALSE, NULL);
	ULONGLONG t0;

	if (!cs || !ths || !start)
		die("out of memory");
	/* Quitters spread among the clients, not all at one end. */
	for (i = 0; i < total; i++) {
		struct mclient *c = &cs[i];

		c->start = start;
		c->bytes = bytes;
		if (quit > 0 && qi < quit && i % (total / quit) == total / quit / 2) {
			c->quit = 1;
			c->n = 1000 + qi++;
		} else {
			c->n = i + 1;
		}
		ths[i] = CreateThread(NULL, 256 * 1024, mclient_run, c, 0, NULL);
		if (!ths[i])
			die("CreateThread: error %lu", GetLastError());
	}
	t0 = GetTickCount64();
	SetEvent(start);
	for (i = 0; i < total; i++) {
		WaitForSingleObject(ths[i], INFINITE);
		CloseHandle(ths[i]);
	}
	for (i = 0; i < total; i++) {
		if (cs[i].quit) {
			qok += cs[i].ok;
			if (!cs[i].ok)
				fprintf(stderr, "pipeclient: quitter %d: %s\n", cs[i].n, cs[i].why);
		} else if (cs[i].ok) {
			ok++;
		} else {
			failed++;
			fprintf(stderr, "pipeclient: client %d: %s\n", cs[i].n, cs[i].why);
		}
	}
	printf("clients %d ok %d failed %d quitters %d connected %d bytes %llu each way per client in %.1f s\n",
	       total - qi, ok, failed, qi, qok, (unsigned long long)bytes, (double)(GetTickCount64() - t0) / 1000.0);
	fflush(stdout);
	return failed || ok != total - qi || qok != qi ? 1 : 0;
}

static int cmd_wedge(int seconds)
{
	HANDLE s, c;
	OVERLAPPED ov;
	DWORD got;

	s = CreateNamedPipeW(wpath, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
	                     PIPE_TYPE_BYTE | PIPE_WAIT, 1, 4096, 4096, 0, NULL);
	if (s == INVALID_HANDLE_VALUE)
		die("CreateNamedPipe %ls: error %lu", wpath, GetLastError());
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
	ConnectNamedPipe(s, &ov);
	c = CreateFileW(wpath, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
	if (c == INVALID_HANDLE_VALUE)
		die("cannot take the only instance: error %lu", GetLastError());
	GetOverlappedResult(s, &ov, &got, TRUE);
	printf("wedged\n");
	fflush(stdout);
	Sleep((DWORD)seconds * 1000);
	CloseHandle(c);
	CloseHandle(s);
	return 0;
}

static int cmd_canon(const char *sddl)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	LPSTR s = NULL;

	if (!ConvertStringSecurityDescriptorToSecurityDescriptorA(sddl, SDDL_REVISION_1, &sd, NULL))
		die("bad SDDL \"%s\": error %lu", sddl, GetLastError());
	if (!ConvertSecurityDescriptorToStringSecurityDescriptorA(sd, SDDL_REVISION_1,
	                                                          DACL_SECURITY_INFORMATION, &s, NULL))
		die("ConvertSecurityDescriptorToStringSecurityDescriptor: error %lu", GetLastError());
	printf("%s\n", s);
	return 0;
}

static int cmd_usersid(void)
{
	HANDLE tok;
	DWORD len = 0;
	TOKEN_USER *tu;
	LPSTR s = NULL;

	if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
		die("OpenProcessToken: error %lu", GetLastError());
	GetTokenInformation(tok, TokenUser, NULL, 0, &len);
	tu = malloc(len);
	if (!tu || !GetTokenInformation(tok, TokenUser, tu, len, &len) || !ConvertSidToStringSidA(tu->User.Sid, &s))
		die("cannot read the user SID: error %lu", GetLastError());
	printf("%s\n", s);
	return 0;
}

static void usage(void)
{
	fputs("usage: pipeclient PIPE get-version | send BYTES [--expect echo] [--seed N] | sddl | burst N\n"
	      "       pipeclient PIPE multi N BYTES [--quit K] | wedge SECONDS\n"
	      "       pipeclient - canon SDDL | usersid\n"
	      "       options: --timeout MS --byte --no-retry\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	int expect_echo = 0, i, quit = 0, timeout_given = 0;
	uint64_t seed = 1;
	const char *pos[4] = { NULL, NULL, NULL, NULL };
	int np = 0;

	crc_init();
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc) {
			expect_echo = strcmp(argv[++i], "echo") == 0;
		} else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			timeout_ms = (DWORD)strtoul(argv[++i], NULL, 10);
			timeout_given = 1;
		} else if (strcmp(argv[i], "--quit") == 0 && i + 1 < argc) {
			quit = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--no-retry") == 0) {
			no_retry = 1;
		} else if (strcmp(argv[i], "--byte") == 0) {
			force_byte = 1;
		} else if (np < 4) {
			pos[np++] = argv[i];
		} else {
			usage();
		}
	}
	if (np < 2)
		usage();
	if (strcmp(pos[1], "canon") == 0 && pos[2])
		return cmd_canon(pos[2]);
	if (strcmp(pos[1], "usersid") == 0)
		return cmd_usersid();
	set_path(pos[0]);
	if (strcmp(pos[1], "get-version") == 0)
		return cmd_get_version();
	if (strcmp(pos[1], "send") == 0 && pos[2])
		return cmd_send(parse_size(pos[2]), seed, expect_echo);
	if (strcmp(pos[1], "sddl") == 0)
		return cmd_sddl();
	if (strcmp(pos[1], "burst") == 0 && pos[2])
		return cmd_burst(atoi(pos[2]));
	if (strcmp(pos[1], "multi") == 0 && pos[2] && pos[3] && atoi(pos[2]) > 0 && quit >= 0) {
		if (!timeout_given)
			timeout_ms = 60000;
		return cmd_multi(atoi(pos[2]), parse_size(pos[3]), quit);
	}
	if (strcmp(pos[1], "wedge") == 0 && pos[2])
		return cmd_wedge(atoi(pos[2]));
	usage();
	return 2;
}
