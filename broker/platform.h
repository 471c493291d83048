/* platform.h - the few OS services the core needs, one implementation per OS
 * (platform_posix.c, later platform_win32.c).  Logic never uses #ifdef. */
#ifndef BROKER_PLATFORM_H
#define BROKER_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include "broker/plugin.h"

/* Shared objects. */
void *platform_dl_open(const char *path, char *err, size_t errlen);
void *platform_dl_sym(void *handle, const char *name);
void platform_dl_close(void *handle);
/* ".so" or ".dll" */
const char *platform_plugin_suffix(void);

/* Descriptors of a stream (socket or pipe). */
int platform_fd_prepare(broker_fd fd);               /* non-blocking, close-on-exec */
void platform_fd_close(broker_fd fd);
int platform_shutdown_write(broker_fd fd);           /* socket: SHUT_WR */
/* Close so the far side sees a reset rather than a clean end (socket: SO_LINGER 0). */
void platform_fd_abort(broker_fd fd);
/* Read into iovecs; returns bytes, 0 at EOF, or -errno (-EAGAIN when nothing to read). */
ssize_t platform_read_iov(broker_fd fd, struct evbuffer_iovec *vec, int nvec);
/* Write up to max bytes from buf (draining what was written); bytes or -errno. */
ssize_t platform_write_buffer(broker_fd fd, struct evbuffer *buf, size_t max);
/* Send one datagram on a connected socket; bytes or -errno (-EAGAIN when full). */
ssize_t platform_send_datagram(broker_fd fd, const void *buf, size_t len);
/* Last socket/system error as a positive errno value. */
int platform_errno(void);

/* Files. */
int platform_mkdir_p(const char *path, int mode);    /* 0 or -errno */
/* Directory listing: calls fn for each regular entry name ending in suffix. */
int platform_list_dir(const char *dir, const char *suffix, int (*fn)(void *arg, const char *path), void *arg);

/* Threads hand work to the loop thread; make libevent thread-safe once, before any event_base.
 * (Windows: also starts winsock.) */
int platform_event_threads(void);

/*
 * Allocator settings for a relay: buffers of 64 KiB come and go at a high
 * rate, and glibc's default trims and re-grows the heap around them (page
 * faults and brk calls dominate the profile).  No-op where not needed.
 */
void platform_tune_allocator(void);

/* Requests to stop or reload, delivered on the loop.  POSIX: SIGTERM, SIGINT,
 * SIGHUP (and SIGPIPE ignored); Windows: Ctrl-C -> INT, Ctrl-Break and the
 * console's close/logoff/shutdown events -> TERM (a console control handler
 * posts them to the loop and never touches core state itself), no reload. */
enum platform_signal { PLATFORM_SIGNAL_TERM, PLATFORM_SIGNAL_INT, PLATFORM_SIGNAL_RELOAD };
struct platform_signals;
int platform_signals_start(struct event_base *base, void (*cb)(enum platform_signal sig, void *arg), void *arg,
                           struct platform_signals **out);   /* 0 or -ENOMEM */
void platform_signals_stop(struct platform_signals *s);      /* NULL is fine */

/* This machine's name (for the broker id); buf keeps its contents when unknown. */
void platform_hostname(char *buf, size_t len);

/* Our own stdin/stdout as one stream (--link-stdio).  POSIX: fds 0 and 1
 * (BROKER_STREAM_PIPES); Windows: a socket bridged to the two handles.
 * 0 or -errno with err. */
int platform_stdio_stream(struct broker_stream_desc *out, char *err, size_t errlen);

/* Paths: true for a directory separator ('/'; on Windows also '\\'). */
bool platform_is_sep(char c);
/* An absolute path ("/x"; Windows "C:\\x", "\\\\server\\x"): one that means the same in any working directory. */
bool platform_path_absolute(const char *path);
/* The separator this OS writes between a directory and a name ("/"; Windows "\\"),
 * and the one between entries of a list of directories in an environment
 * variable (BROKER_PLUGIN_DIR; ":" like PATH; Windows ";", since "C:\\x" has a colon).
 * Compile-time strings, so tables and help texts can use them. */
#ifdef _WIN32
#define PLATFORM_DIR_SEP "\\"
#define PLATFORM_PATH_LIST_SEP ";"
#else
#define PLATFORM_DIR_SEP "/"
#define PLATFORM_PATH_LIST_SEP ":"
#endif
/* DIR + separator + NAME, malloc'd (NULL when out of memory); no second
 * separator when dir already ends with one, so "C:\\" + "x" is "C:\\x". */
char *platform_path_join(const char *dir, const char *name);
/* Create one directory (mode: POSIX bits, ignored on Windows); 0, -EEXIST or -errno. */
int platform_mkdir(const char *path, int mode);

/* Could we write path (a directory: create files in it)?  0, or -errno from
 * access(R_OK|W_OK / W_OK|X_OK); 0 for a file we cannot see (sqlite creates
 * it).  Windows: the read-only attribute only. */
int platform_check_writable(const char *path, bool dir);

/* An exclusive advisory lock on a file (created 0600 if missing) for as long
 * as it is held: 0, -EWOULDBLOCK when another process holds it, -errno. */
struct platform_lock;
int platform_lock_file(const char *path, struct platform_lock **out);
void platform_unlock_file(struct platform_lock *l);                /* NULL is fine */

/* A private file (secrets): create exclusively, readable by us only (0600;
 * Windows: a DACL for the current user), write data and flush it to disk;
 * on failure nothing is left behind.  0 or -errno with err. */
int platform_private_file_create(const char *path, const void *data, size_t len, char *err, size_t errlen);
/* A state file only we may read (the database and its -wal and -shm): when
 * create is set and path is missing, create it empty with mode 0600; when it
 * exists, is ours and others may read or write it, take their bits away
 * (the owner's stay: a read-only file stays read-only).  Never follows a
 * symlink.  Best effort: 0, or -errno for the caller to ignore or report
 * (the file is then opened and judged as before).  Windows: 0 (the state
 * dir is in the user's profile). */
int platform_state_file_private(const char *path, bool create);
/* Read up to cap bytes of a private file: -ENOENT when missing, -EINVAL when
 * not a regular file, -EACCES when others may read it (POSIX mode bits; not
 * checked on Windows), -errno; each with err. */
int platform_private_file_read(const char *path, void *buf, size_t cap, size_t *n, char *err, size_t errlen);

/* Who is on the other end of a connected socket, as the kernel tells it
 * (never as the peer claims): what the link's authentication rules use. */
enum platform_peer_kind {
	PLATFORM_PEER_OTHER = 0,    /* not a socket, or nothing vouches for its peer (hvsock; all of Windows) */
	PLATFORM_PEER_INET,         /* TCP over IPv4/IPv6: anyone on the network */
	PLATFORM_PEER_UNIX,         /* a Unix socket: uid is the peer process's */
	PLATFORM_PEER_VSOCK,        /* AF_VSOCK: cid is the peer's context id */
};
#define PLATFORM_VSOCK_CID_HOST 2   /* the hypervisor side of a VM's vsock */
struct platform_peer {
	enum platform_peer_kind kind;
	long uid;                   /* UNIX: SO_PEERCRED uid, -1 when unknown */
	unsigned long cid;          /* VSOCK */
};
void platform_sock_peer(broker_fd fd, struct platform_peer *out);
/* Our effective uid; -1 where there are none (Windows). */
long platform_euid(void);
/* Do only we (or root) control the Unix socket file at path and the
 * directory it is in (owner ours or root, directory writable by neither
 * group nor others)?  0, -EPERM with why naming the owner or the mode, or
 * -errno from stat with why.  Windows: -ENOSYS. */
int platform_unix_path_private(const char *path, char *why, size_t whylen);

/* A Unix socket listening at path (absolute), mode 0600 from the start
 * (never briefly wider), non-blocking and close-on-exec, backlog 64.  A
 * stale socket file (nothing accepts on it) is replaced; a live one is
 * -EADDRINUSE and anything else at path -EEXIST.  0 or -errno with err.
 * Windows: -ENOTSUP (use a loopback TCP address there). */
int platform_unix_listen(const char *path, broker_fd *out, char *err, size_t errlen);

/* The absolute path with every symlink, "." and ".." resolved.  The last
 * component need not exist (a socket about to be created): its directory
 * is resolved and the name appended; a last component of "." or ".." must
 * exist.  0, -ENAMETOOLONG or -errno from the lookup.  Windows: the full
 * path name (no symlinks are followed). */
int platform_path_resolve(const char *path, char *out, size_t outlen);

#endif
