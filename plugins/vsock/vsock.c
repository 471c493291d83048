/*
 * plugins/vsock/vsock.c - endpoint plugin for AF_VSOCK stream sockets
 * (virtio-vsock / Hyper-V sockets between a VM and its host).
 *
 *   listen:  vsock://CID:PORT   CID: a number, -1 or "any", "host" (2), "local" (1)
 *            vsock://any:PORT   PORT: a number, or -1 / "any" (the kernel picks)
 *            ?backlog=N
 *   connect: vsock://CID:PORT   (CID any is refused)
 *
 * Connect is non-blocking; completion is always reported from a later event
 * (plugins/common/sock_connect.c, shared with hvsock).  Accepting is
 * plugins/common/sock_listen.c, shared with tcp, unix and hvsock.
 * When the kernel has no AF_VSOCK (no vsock module, not in a VM) listen and
 * connect fail with a reason saying so.
 *
 * Linux only.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include <event2/event.h>
#include <event2/util.h>

#include "broker/plugin.h"
#include "plugins/common/sock_connect.h"
#include "plugins/common/sock_listen.h"

static const struct broker_host *host;

#ifndef VMADDR_CID_LOCAL
#define VMADDR_CID_LOCAL 1
#endif

#define VSOCK_UNAVAILABLE \
	"vsock is not available on this machine (no AF_VSOCK: load the vsock module or run inside a VM)"

/* ------------------------------------------------------------- helpers */

/* "any", or the number. */
static void cid_text(unsigned cid, char *buf, size_t len)
{
	if (cid == VMADDR_CID_ANY)
		snprintf(buf, len, "any");
	else
		snprintf(buf, len, "%u", cid);
}

static void addr_text(const struct sockaddr_vm *a, char *buf, size_t len)
{
	char cid[16], port[16];

	cid_text(a->svm_cid, cid, sizeof(cid));
	if (a->svm_port == VMADDR_PORT_ANY)
		snprintf(port, sizeof(port), "any");
	else
		snprintf(port, sizeof(port), "%u", a->svm_port);
	snprintf(buf, len, "%s:%s", cid, port);
}

/* A 32-bit unsigned number, or -1 / "any" when allow_any.  0 or -EINVAL. */
static int parse_u32(const char *s, size_t n, int allow_any, unsigned any, unsigned *out)
{
	char buf[24], *end;
	unsigned long long v;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (allow_any && (strcmp(buf, "any") == 0 || strcmp(buf, "-1") == 0)) {
		*out = any;
		return 0;
	}
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (*end || errno || v >= 0xffffffffULL)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* Parse "CID:PORT" (a trailing "/" is tolerated). */
static int parse_addr(const char *address, int listening, struct sockaddr_vm *a,
                      char *err, size_t errlen)
{
	const char *p = address ? address : "";
	const char *colon = strchr(p, ':');
	size_t plen;

	memset(a, 0, sizeof(*a));
	a->svm_family = AF_VSOCK;
	if (!colon) {
		snprintf(err, errlen, "missing port in \"%s\" (write vsock://CID:PORT, e.g. vsock://2:5000)",
		         p);
		return -EINVAL;
	}
	if ((size_t)(colon - p) == 4 && strncmp(p, "host", 4) == 0) {
		a->svm_cid = VMADDR_CID_HOST;
	} else if ((size_t)(colon - p) == 5 && strncmp(p, "local", 5) == 0) {
		a->svm_cid = VMADDR_CID_LOCAL;
	} else if (parse_u32(p, (size_t)(colon - p), 1, VMADDR_CID_ANY, &a->svm_cid) < 0) {
		snprintf(err, errlen, "bad CID \"%.*s\" (a number, host, local, or any/-1 to listen)",
		         (int)(colon - p), p);
		return -EINVAL;
	}
	if (!listening && a->svm_cid == VMADDR_CID_ANY) {
		snprintf(err, errlen, "cannot connect to CID any (name the peer: vsock://2:PORT for the host)");
		return -EINVAL;
	}
	plen = strlen(colon + 1);
	if (plen > 0 && colon[plen] == '/')
		plen--;
	if (parse_u32(colon + 1, plen, listening, VMADDR_PORT_ANY, &a->svm_port) < 0) {
		snprintf(err, errlen, "bad port \"%s\" (a number from 0 to 4294967294%s)", colon + 1,
		         listening ? ", or any" : "");
		return -EINVAL;
	}
	return 0;
}

/* A non-blocking, close-on-exec AF_VSOCK stream socket, or -errno. */
static evutil_socket_t new_socket(void)
{
	evutil_socket_t fd = socket(AF_VSOCK, SOCK_STREAM, 0);
	int e;

	if (fd < 0)
		return -errno;
	if (evutil_make_socket_nonblocking(fd) < 0 || evutil_make_socket_closeonexec(fd) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static int no_vsock(int e)
{
	return e == EAFNOSUPPORT || e == EPROTONOSUPPORT || e == ESOCKTNOSUPPORT;
}

/* ------------------------------------------------------------- lifecycle */

/* The plugin keeps nothing but its handle: that is its state. */
static int vsock_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	*state = h;
	return 0;
}

/* ------------------------------------------------------------- listen */

/* "vsock:3:1025" for an accepted socket (sock_listen_peer_fn). */
static void accepted_peer(evutil_socket_t fd, const struct sockaddr *sa, int salen, char *buf,
                          size_t len)
{
	char where[48];

	(void)fd;
	(void)salen;
	addr_text((const struct sockaddr_vm *)sa, where, sizeof(where));
	snprintf(buf, len, "vsock:%s", where);
}

static void bind_error(int e, const char *where, char *err, size_t errlen)
{
	switch (e) {
	case EADDRINUSE:
		snprintf(err, errlen, "address already in use (another program listens on vsock port %s)",
		         where);
		break;
	case EADDRNOTAVAIL:
		snprintf(err, errlen, "CID not available on this machine (%s; listen on vsock://any:PORT)",
		         where);
		break;
	case EACCES:
		snprintf(err, errlen, "permission denied binding vsock %s (ports below 1024 need "
		         "CAP_NET_BIND_SERVICE)", where);
		break;
	default:
		if (no_vsock(e))
			snprintf(err, errlen, VSOCK_UNAVAILABLE);
		else
			snprintf(err, errlen, "cannot listen on vsock %s: %s", where, strerror(e));
		break;
	}
}

static int vsock_listen(void *state, const struct broker_url *url, struct broker_accept_sink *sink,
                        void **listener, char *err, size_t errlen)
{
	struct broker_plugin_handle *h = state;
	struct sock_listen_opts o;
	struct sock_listener *sl;
	struct sockaddr_vm a, bound;
	socklen_t bl = sizeof(bound);
	char where[48];
	evutil_socket_t fd;
	int backlog, r, e = 0;

	r = parse_addr(url->address, 1, &a, err, errlen);
	if (r < 0)
		return r;
	r = sock_listen_backlog(host, h, url, 128, &backlog, err, errlen);
	if (r < 0)
		return r;
	addr_text(&a, where, sizeof(where));
	fd = new_socket();
	if (fd < 0) {
		bind_error((int)-fd, where, err, errlen);
		return (int)fd;
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, backlog) < 0) {
		e = errno;
		close(fd);
		bind_error(e, where, err, errlen);
		return -e;
	}
	if (getsockname(fd, (struct sockaddr *)&bound, &bl) == 0 && bound.svm_family == AF_VSOCK)
		addr_text(&bound, where, sizeof(where));
	memset(&o, 0, sizeof(o));
	o.scheme = "vsock";
	o.where = where;
	o.peer = accepted_peer;
	r = sock_listen_start(host, h, sink, fd, &o, &sl, err, errlen);
	if (r < 0)
		return r;
	host->log(h, BROKER_LOG_DEBUG, "listening on vsock %s (backlog %d)", where, backlog);
	*listener = sl;
	return 0;
}

/* ------------------------------------------------------------- connect */

/* The reason and negative errno for a failed connect (sock_connect_why_fn; e 0: timed out). */
static int connect_why(const char *where, int e, long long timeout_ms, char *reason, size_t len)
{
	switch (e) {
	case 0:
		snprintf(reason, len, "timed out after %lld ms connecting to vsock %s", timeout_ms, where);
		return -ETIMEDOUT;
	case ECONNRESET:
	case ECONNREFUSED:
		snprintf(reason, len, "connection refused by vsock %s (nothing listens on that port)", where);
		return -ECONNREFUSED;
	case ENODEV:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EADDRNOTAVAIL:
		snprintf(reason, len, "cannot reach vsock CID of %s: %s (is that VM running?)", where,
		         strerror(e));
		return -e;
	default:
		snprintf(reason, len, "cannot connect to vsock %s: %s", where, strerror(e));
		return -e;
	}
}

static int vsock_connect(void *state, const struct broker_url *url, struct broker_connect_req *req,
                         void **pending, char *err, size_t errlen)
{
	struct broker_plugin_handle *h = state;
	struct sock_connect_opts o;
	struct sock_connect *sc;
	struct sockaddr_vm a;
	char where[48], peer[64];
	evutil_socket_t fd;
	int r;

	r = parse_addr(url->address, 0, &a, err, errlen);
	if (r < 0)
		return r;
	addr_text(&a, where, sizeof(where));
	fd = new_socket();
	if (fd < 0) {
		if (no_vsock((int)-fd))
			snprintf(err, errlen, VSOCK_UNAVAILABLE);
		else
			snprintf(err, errlen, "cannot create a vsock socket: %s", strerror((int)-fd));
		return (int)fd;
	}
	snprintf(peer, sizeof(peer), "vsock:%s", where);
	memset(&o, 0, sizeof(o));
	o.name = "vsock";
	o.where = where;
	o.peer = peer;
	o.flags = BROKER_STREAM_SOCKET;
	o.timeout_ms = host->option_int(h, "connect_timeout_ms");
	o.why = connect_why;
	r = sock_connect_start(host, host->event_base(h), req, fd, (struct sockaddr *)&a, sizeof(a),
	                       &o, &sc, err, errlen);
	if (r < 0)
		return r;
	*pending = sc;
	return 0;
}

/* ------------------------------------------------------------- plugin */

static const struct broker_option vsock_options[] = {
	{ BROKER_OPT_INT, "connect_timeout_ms", "10000",
	  "give up connecting after this many milliseconds (0: no limit)", 0, 86400000 },
	{ BROKER_OPT_INT, "backlog", "128",
	  "listen backlog (pending connections the kernel queues); ?backlog=N overrides", 1, 65535 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

static const char *const vsock_schemes[] = { "vsock", NULL };

static const struct broker_url_param_decl vsock_params[] = {
	{ "backlog", BROKER_PARAM_LISTEN, NULL, "pending connections the kernel queues" },
	{ NULL, 0, NULL, NULL },
};

static const struct broker_plugin vsock_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "vsock",
	.version = PACKAGE_VERSION,
	.description = "AF_VSOCK endpoints between a VM and its host (vsock://CID:PORT)",
	.kinds = BROKER_KIND_ENDPOINT,
	.options = vsock_options,
	.init = vsock_init,
	.schemes = vsock_schemes,
	.url_params = vsock_params,
	.listen = vsock_listen,
	.unlisten = sock_listen_unlisten,
	.describe = sock_listen_describe_cb,
	.connect = vsock_connect,
	.connect_cancel = sock_connect_cancel_cb,
};

BROKER_PLUGIN_DEFINE(vsock_plugin, host)
