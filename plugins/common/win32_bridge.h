/*
 * plugins/common/win32_bridge.h - relay a Windows HANDLE pair (named pipe,
 * anonymous pipe, our own stdin/stdout) through one end of a socket pair.
 *
 * On Windows everything the core relays is a SOCKET.  win32_bridge_start()
 * makes an evutil_socketpair(), returns one end to the caller (hand it to the
 * core as a BROKER_STREAM_SOCKET stream: rfd == wfd == the socket) and starts
 * two threads that only move bytes:
 *
 *   rd  -> socket   pipe EOF (a zero-byte read, ERROR_BROKEN_PIPE,
 *                   ERROR_HANDLE_EOF, ERROR_PIPE_NOT_CONNECTED) becomes
 *                   shutdown(SD_SEND) on the socket;
 *   socket -> wr    socket EOF becomes, toward a message-mode pipe
 *                   (WIN32_BRIDGE_MESSAGE), a zero-byte message (Docker's pipe
 *                   client reads that as half-close); toward a byte-mode pipe,
 *                   CloseHandle(wr) (when wr is not also rd).
 *
 * The bridge ends when both directions are done (or on an error in either:
 * a broken socket aborts the other direction too); the last thread closes
 * the handles (once when rd == wr) and its socket end, then calls on_exit.
 * The threads never touch core state: on_exit runs on a bridge thread, so
 * it may only do thread-safe things (host->post, SetEvent).
 *
 * This file is compiled into each user (the core's stdio carrier, the npipe
 * and exec plugins), never exported by the core: plugins cannot link the
 * executable.  Each copy keeps its own list of running bridges, so a plugin
 * DLL calls win32_bridge_stop_all() from its stop() and no bridge thread
 * runs the DLL's code after it is unloaded.
 *
 * Windows only.  Compile with -D_WIN32_WINNT=0x0600 or later.
 */
#ifndef BROKER_WIN32_BRIDGE_H
#define BROKER_WIN32_BRIDGE_H

#ifdef _WIN32

#include <stddef.h>
#include <winsock2.h>
#include <windows.h>
#include <event2/util.h>

/* flags */
/* The pipe is in message read mode: a zero-byte message is EOF both ways. */
#define WIN32_BRIDGE_MESSAGE   (1u << 0)
/* rd == wr is one duplex handle (a named pipe): closed once, at the end. */
#define WIN32_BRIDGE_SAME      (1u << 1)
/* rd/wr were opened with FILE_FLAG_OVERLAPPED (named pipes we create):
 * the threads use overlapped I/O and stop_all can cancel them promptly.
 * Without it, blocking ReadFile/WriteFile (anonymous pipes, stdio); stop_all
 * then uses CancelSynchronousIo.  A duplex handle MUST be overlapped: two
 * threads doing synchronous I/O on one handle are serialized by Windows. */
#define WIN32_BRIDGE_OVERLAPPED (1u << 2)
/* Never close rd/wr (e.g. the process's own stdio handles). */
#define WIN32_BRIDGE_KEEP_HANDLES (1u << 3)

struct win32_bridge_opts {
	HANDLE rd;                 /* read from here, write to the socket; NULL/INVALID: none */
	HANDLE wr;                 /* read the socket, write here; NULL/INVALID: none */
	unsigned flags;            /* WIN32_BRIDGE_* */
	const char *name;          /* for debugging ("npipe \\.\pipe\x"), may be NULL */
	/* Called once on a bridge thread after everything is closed; may be NULL. */
	void (*on_exit)(void *arg);
	void *arg;
};

/*
 * Start a bridge.  On success *sock_out is the caller's end of the socket
 * pair (non-blocking is up to the core) and the bridge owns rd/wr (unless
 * KEEP_HANDLES).  On failure returns a negative errno, writes err, and the
 * handles are NOT closed (still the caller's).
 */
int win32_bridge_start(const struct win32_bridge_opts *opts, evutil_socket_t *sock_out,
                       char *err, size_t errlen);

/* Shorthand without on_exit. */
int win32_bridge_handle(HANDLE rd, HANDLE wr, unsigned flags, evutil_socket_t *sock_out,
                        char *err, size_t errlen);

/*
 * Abort every bridge this copy of the code started and wait for their threads
 * to finish (at most timeout_ms; returns the number still running).  For a
 * plugin's stop().  on_exit callbacks still run (on the bridge threads).
 */
int win32_bridge_stop_all(unsigned long timeout_ms);

/* Number of bridges running (for tests and logs). */
int win32_bridge_count(void);

#endif /* _WIN32 */
#endif /* BROKER_WIN32_BRIDGE_H */
