/* test_platform.h - the few OS services the portable unit tests need, one
 * implementation per OS (test_platform_posix.c, test_platform_win32.c; the
 * build picks one, see tests/unit/local.mk).  Tests call these instead of
 * setenv/mkdtemp/fork/chmod and never use #ifdef: a check that one OS cannot
 * make asks a tp_skip_*() function, which gives the reason (for a TAP
 * "ok N # skip REASON") or NULL when the check runs here. */
#ifndef BROKER_TESTS_TEST_PLATFORM_H
#define BROKER_TESTS_TEST_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>

/* Environment (overwrites; the C runtime's copy, which getenv reads). 0 or -errno. */
int tp_setenv(const char *name, const char *value);
int tp_unsetenv(const char *name);

/* A new directory only we use, under the system's temp dir, named PREFIX-XXXXXX;
 * malloc'd, NULL with errno on failure. */
char *tp_mkdtemp(const char *prefix);
/* Remove dir and everything below it, read-only leftovers included. */
void tp_rm_rf(const char *dir);

void tp_sleep_ms(unsigned ms);

/* True when permission checks mean nothing to us (POSIX root). */
bool tp_is_root(void);

/* Make libevent thread-aware (and start winsock on Windows); before any event_base. 0 or -1. */
int tp_event_threads(void);

/* Directory paths that are absolute on this OS, for list-splitting tests
 * (Windows: with drive letters and a UNC path). */
extern const char *const tp_abs_dirs[3];

/* What runtime_dir_default() / runtime_dir_state_default() / runtime_dir_ctl_url()
 * must give for an ordinary user after tp_user_dirs_fixture() set the environment
 * (POSIX: XDG_RUNTIME_DIR, XDG_STATE_HOME; Windows: LOCALAPPDATA).  Strings are static. */
struct tp_user_dirs {
	const char *runtime;
	const char *state;
	const char *ctl_url;
};
void tp_user_dirs_fixture(struct tp_user_dirs *want);

/* A runtime dir for a test's own control endpoint: POSIX TMPDIR/LEAF; Windows
 * a pipe-name prefix unique to this process (LEAF and the pid). */
void tp_runtime_dir(const char *tmpdir, const char *leaf, char *buf, size_t len);

/* ---- checks one OS cannot make: the reason, or NULL when they run ---- */

/* POSIX mode bits (0600, 0700): Windows has ACLs instead. */
const char *tp_skip_file_modes(void);
/* A directory whose mode forbids creating files in it. */
const char *tp_skip_readonly_dir(void);
/* Acting as another user (fork + setuid to nobody): needs POSIX and root. */
const char *tp_skip_other_user(void);
/* Unix sockets: socket files that go stale or get removed, raw AF_UNIX clients. */
const char *tp_skip_unix_sockets(void);
/* XDG base-directory environment variables. */
const char *tp_skip_xdg(void);
/* Dialing a stopped server's name in the process where a client left one of
 * its connections mid-handshake: NNG 1.5 never closes that connection, and on
 * Windows its pipe instance keeps \\.\pipe\NAME alive and busy, so a dial
 * waits forever (the process's exit closes it; POSIX has no such name). */
const char *tp_skip_dial_after_orphan(void);
/* nng_fini() at exit (wine hangs in it). */
const char *tp_skip_nng_fini(void);

/* ---- helpers for those checks (each returns -ENOSYS where its skip says so) ---- */

/* st_mode & 0777 of path, or -errno. */
int tp_file_mode(const char *path);
int tp_chmod(const char *path, int mode);
/* The uid/gid of user 'nobody': 0 or -ENOENT. */
int tp_nobody(long *uid, long *gid);
int tp_chown(const char *path, long uid, long gid);

/*
 * Run fn(arg, out, len) in a child process (as uid/gid unless uid is -1) and
 * copy what it wrote to out back here; 0 or -1.  Without fork (Windows) and
 * with uid -1, fn runs in this process; with another uid, -ENOSYS.
 */
int tp_run_as(long uid, long gid, void (*fn)(void *arg, void *out, size_t len), void *arg, void *out, size_t len);

/* Bind a Unix socket at path and close it without listening (a stale socket file). 0 or -errno. */
int tp_unix_bind_stale(const char *path);

/*
 * As uid/gid (in a child; root only), connect to the Unix socket at path,
 * send hello, read reply_len bytes, then wait up to 2 s for more: 1 when
 * connect() was denied, 2 when the server closed the connection, 0 when it
 * stayed up, -1 on a test failure.
 */
int tp_unix_probe_as(const char *path, long uid, long gid, const void *hello, size_t hello_len, size_t reply_len);

/* Connect to a local ipc endpoint's name (socket file / \\.\pipe\NAME) and
 * close at once, before any handshake.  0 or -errno. */
int tp_ipc_connect_close(const char *name);

#endif
