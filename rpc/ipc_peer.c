/* ipc_peer.c - listening on local ipc:// endpoints on POSIX: a Unix socket
 * file (mode 0600) in the runtime dir, a peer-uid check (see ipc_peer.h). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rpc/ipc_peer.h"
#include "broker/errfmt.h"
#include "broker/log.h"

static int mkdir_private(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	char *parent, *slash;
	int rc;

	if (lstat(dir, &st) == 0)
		return 0;
	if (errno != ENOENT)
		return errfmt(err, errlen, -errno, "runtime dir %s: %s", dir, strerror(errno));
	parent = strdup(dir);
	if (!parent)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		rc = mkdir_private(parent, err, errlen);
		if (rc < 0) {
			free(parent);
			return rc;
		}
	}
	free(parent);
	/* 0700: the socket is briefly created with the umask's mode before NNG chmods it. */
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return errfmt(err, errlen, -errno, "cannot create runtime dir %s: %s (pass --runtime-dir)", dir,
		              strerror(errno));
	return 0;
}

/*
 * The directory the control socket lives in must be ours alone, or another
 * user could replace the socket and receive brokerctl's commands (the
 * default /tmp/broker-UID can be made by anyone first): a real directory,
 * not a symlink, owned by us, mode 0700.  We refuse rather than repair: a
 * directory someone else could write to may already hold their files.
 */
static int runtime_dir_private(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(dir, &st) < 0)
		return errfmt(err, errlen, -errno, "runtime dir %s: %s", dir, strerror(errno));
	if (S_ISLNK(st.st_mode))
		return errfmt(err, errlen, -ELOOP,
		              "runtime dir %s is a symbolic link: refusing it (whoever made it could redirect the control "
		              "socket); remove it, or pass --runtime-dir DIR",
		              dir);
	if (!S_ISDIR(st.st_mode))
		return errfmt(err, errlen, -ENOTDIR, "runtime dir %s exists and is not a directory", dir);
	if (st.st_uid != geteuid())
		return errfmt(err, errlen, -EPERM,
		              "runtime dir %s belongs to uid %lu, not to this user (uid %lu): another user may have made it "
		              "to intercept brokerctl; remove it (as root), or pass --runtime-dir DIR or set XDG_RUNTIME_DIR",
		              dir, (unsigned long)st.st_uid, (unsigned long)geteuid());
	if (st.st_mode & 077)
		return errfmt(err, errlen, -EPERM,
		              "runtime dir %s has mode %04o: other users could replace the control socket in it; run "
		              "chmod 700 %s",
		              dir, (unsigned)(st.st_mode & 07777), dir);
	return 0;
}

/*
 * Refuse to take over a live broker's socket; remove a stale one.  The probe
 * is a full NNG dial, not a bare connect(): NNG 1.5.2's ipc listener stops
 * accepting for good when a peer closes before the SP handshake finishes
 * (the negotiation error is NNG_ECLOSED, which its accept loop takes as
 * "listener closed"), so a bare connect+close would wedge the live broker.
 */
static int check_existing_socket(const char *url, const char *path, const struct ipc_listen_words *w, char *err,
                                  size_t errlen)
{
	nng_socket probe;
	struct stat st;
	int rv;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : errfmt(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return errfmt(err, errlen, -EEXIST, "%s exists and is not a socket; remove it or pick another --runtime-dir",
		              path);
	if ((rv = w->probe_open(&probe)) != 0)
		return errfmt(err, errlen, -ENOMEM, "cannot open a probe socket: %s", nng_strerror(rv));
	rv = nng_dial(probe, url, NULL, 0);
	nng_close(probe);
	switch (rv) {
	case 0:
		return errfmt(err, errlen, -EADDRINUSE, "another brokerd is already %s on %s", w->doing, path);
	case NNG_ECONNREFUSED:
		if (unlink(path) < 0 && errno != ENOENT)
			return errfmt(err, errlen, -errno, "cannot remove stale %s socket %s: %s", w->kind, path,
			              strerror(errno));
		log_info(w->tag, "removed stale %s socket %s", w->kind, path);
		return 0;
	case NNG_ENOENT:
		return 0;
	case NNG_EPERM:
		return errfmt(err, errlen, -EACCES, "%s: permission denied (owned by another user?)", path);
	default:
		return errfmt(err, errlen, -EADDRINUSE, "%s exists and does not behave like a stale socket (%s); remove it if no brokerd runs",
		              path, nng_strerror(rv));
	}
}

int ipc_listen_prepare(const char *url, const char *name, const struct ipc_listen_words *w, char *err,
                       size_t errlen)
{
	char *slash = strrchr(name, '/');
	int rc;

	if (w->make_parent && slash && slash != name) {
		char *dir = strndup(name, (size_t)(slash - name));

		if (!dir)
			return errfmt(err, errlen, -ENOMEM, "out of memory");
		rc = mkdir_private(dir, err, errlen);
		if (rc == 0)
			rc = runtime_dir_private(dir, err, errlen);
		free(dir);
		if (rc < 0)
			return rc;
	}
	return check_existing_socket(url, name, w, err, errlen);
}

int ipc_listener_restrict(nng_listener l, const char **what)
{
	*what = "mode 0600";
	return nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600);
}

void ipc_listen_cleanup(const char *name, const char *tag)
{
	if (unlink(name) < 0 && errno != ENOENT)
		log_warn(tag, "cannot remove %s: %s", name, strerror(errno));
}

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
