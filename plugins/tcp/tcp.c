/*
 * plugins/tcp/tcp.c - endpoint plugin for TCP over IPv4 and IPv6.
 *
 *   listen:  tcp://HOST:PORT  tcp://[v6]:PORT  tcp://:PORT (127.0.0.1)
 *            ?backlog=N
 *   connect: tcp://HOST:PORT  (every resolved address is tried in order)
 *            udp://HOST:PORT  (a connected datagram socket, for UDP port mappings)
 *   both:    ?netns=/run/netns/NAME | NAME | pid:N  (Linux: the socket lives in that namespace)
 *
 * Nothing here blocks the loop on a name lookup.  A listener takes an IP
 * address (or "localhost", which means 127.0.0.1): listening happens on the
 * loop thread (a route added by brokerctl or asked for by the peer), where a
 * blocking getaddrinfo on a name could stall every link and client for as
 * long as the resolver takes.  Connecting: numeric hosts are parsed
 * directly, names go through evdns, and the connect itself is non-blocking.
 * Completion is always reported from a later event.
 * Accepting is plugins/common/sock_listen.c (shared with unix, vsock, hvsock).
 *
 * Portable to Windows (mingw-w64): sockets are evutil_socket_t and socket
 * errors are read with EVUTIL_SOCKET_ERROR() and mapped to errno values.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <unistd.h>
#endif

#include <event2/event.h>
#include <event2/dns.h>
#include <event2/util.h>

#include "broker/plugin.h"
#include "plugins/common/sock_listen.h"
#include "netns.h"

static const struct broker_host *host;

#define TCP_DEFAULT_HOST "127.0.0.1"
#define TCP_HOST_MAX 256

struct tcp_state {
	struct broker_plugin_handle *h;
	struct evdns_base *dns;         /* created on the first connect to a name */
};

struct tcp_pending {
	struct tcp_state *st;
	struct broker_connect_req *req;
	char host[TCP_HOST_MAX];
	char port[8];
	struct evutil_addrinfo *ai;     /* resolved list (owned) */
	struct evutil_addrinfo *cur;    /* the address being tried */
	int ai_from_dns;                /* ai must be freed with evutil_freeaddrinfo either way */
	struct evdns_getaddrinfo_request *dns_req;
	evutil_socket_t fd;
	struct event *wev;              /* EV_WRITE while connecting */
	struct event *timeout;
	struct event *done;             /* zero-delay event that reports a failure */
	int cancelled;                  /* core cancelled while DNS was in flight */
	int dgram;                      /* udp:// */
	char netns[256];                /* ?netns=, "" for ours */
	int error;                      /* negative errno of the last failure */
	char reason[320];
};

/* ------------------------------------------------------------- helpers */

/* The last socket error as a positive errno value (WSA codes mapped on Windows). */
static int sock_errno_of(int e)
{
#ifdef _WIN32
	switch (e) {
	case WSAEADDRINUSE: return EADDRINUSE;
	case WSAEADDRNOTAVAIL: return EADDRNOTAVAIL;
	case WSAEACCES: return EACCES;
	case WSAECONNREFUSED: return ECONNREFUSED;
	case WSAETIMEDOUT: return ETIMEDOUT;
	case WSAENETUNREACH: return ENETUNREACH;
	case WSAEHOSTUNREACH: return EHOSTUNREACH;
	case WSAEMFILE: return EMFILE;
	case WSAENOBUFS: return ENOBUFS;
	case WSAEAFNOSUPPORT: return EAFNOSUPPORT;
	default: return e > 0 ? e : EIO;
	}
#else
	return e > 0 ? e : EIO;
#endif
}

/* A non-blocking connect() that has started and will finish later. */
static int connect_in_progress(int e)
{
#ifdef _WIN32
	return e == WSAEWOULDBLOCK || e == WSAEINPROGRESS || e == WSAEINTR;
#else
	return e == EINPROGRESS || e == EINTR;
#endif
}

/* "1.2.3.4:80" or "[::1]:80" from a sockaddr. */
static void addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		evutil_inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, (unsigned)ntohs(s6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		evutil_inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, (unsigned)ntohs(s4->sin_port));
	} else {
		snprintf(buf, len, "(family %d)", (int)sa->sa_family);
	}
}

/*
 * Split "HOST:PORT", "[V6]:PORT" or ":PORT" into host and port.  An empty
 * host becomes 127.0.0.1.  A trailing "/" is tolerated.
 */
static int split_hostport(const char *address, char *hostbuf, size_t hostlen,
                          char *portbuf, size_t portlen, char *err, size_t errlen)
{
	const char *p = address ? address : "";
	const char *hend, *port;
	size_t n;
	char *end;
	long v;

	if (p[0] == '[') {
		hend = strchr(p, ']');
		if (!hend || hend[1] != ':') {
			snprintf(err, errlen, "bad IPv6 address \"%s\" (write tcp://[::1]:8080)", p);
			return -EINVAL;
		}
		n = (size_t)(hend - p - 1);
		p++;
		port = hend + 2;
	} else {
		hend = strrchr(p, ':');
		if (!hend) {
			snprintf(err, errlen, "missing port in \"%s\" (write tcp://HOST:PORT)", p);
			return -EINVAL;
		}
		if (memchr(p, ':', (size_t)(hend - p))) {
			snprintf(err, errlen, "IPv6 addresses need brackets (write tcp://[%.*s]:PORT)",
			         (int)(hend - p), p);
			return -EINVAL;
		}
		n = (size_t)(hend - p);
		port = hend + 1;
	}
	if (n == 0) {
		snprintf(hostbuf, hostlen, "%s", TCP_DEFAULT_HOST);
	} else {
		if (n >= hostlen) {
			snprintf(err, errlen, "host name too long (%zu bytes)", n);
			return -ENAMETOOLONG;
		}
		memcpy(hostbuf, p, n);
		hostbuf[n] = '\0';
	}
	errno = 0;
	v = strtol(port, &end, 10);
	if (end == port || (*end && strcmp(end, "/") != 0) || errno || v < 0 || v > 65535 ||
	    port[0] == '-' || port[0] == '+') {
		snprintf(err, errlen, "bad port \"%s\" (a number from 0 to 65535)", port);
		return -EINVAL;
	}
	snprintf(portbuf, portlen, "%ld", v);
	return 0;
}

static void set_nodelay(evutil_socket_t fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, (void *)&one, sizeof(one));
}

/* ------------------------------------------------------------- lifecycle */

static int tcp_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	struct tcp_state *st = calloc(1, sizeof(*st));

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->h = h;
	*state = st;
	return 0;
}

static void tcp_stop(void *state)
{
	struct tcp_state *st = state;

	if (st && st->dns) {
		evdns_base_free(st->dns, 0);
		st->dns = NULL;
	}
}

static void tcp_fini(void *state)
{
	tcp_stop(state);
	free(state);
}

/* ------------------------------------------------------------- listen */

/* "tcp:1.2.3.4:40000" for an accepted socket (sock_listen_peer_fn); no Nagle delay on relayed bytes. */
static void accepted_peer(evutil_socket_t fd, const struct sockaddr *sa, int salen, char *buf,
                          size_t len)
{
	char where[INET6_ADDRSTRLEN + 16];

	(void)salen;
	set_nodelay(fd);
	addr_text(sa, where, sizeof(where));
	snprintf(buf, len, "tcp:%s", where);
}

static void accept_error_text(int e, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(sock_errno_of(e)));
}

static void bind_error(int e, const char *where, const char *port, char *err, size_t errlen)
{
	switch (e) {
	case EADDRINUSE:
		snprintf(err, errlen, "address already in use (another program listens on %s)", where);
		break;
	case EACCES:
		if (atoi(port) < 1024)
			snprintf(err, errlen, "permission denied (ports below 1024 need root or "
			         "CAP_NET_BIND_SERVICE; try 8080)");
		else
			snprintf(err, errlen, "permission denied binding %s", where);
		break;
	case EADDRNOTAVAIL:
		snprintf(err, errlen, "address not available on this machine (%s)", where);
		break;
	case EAFNOSUPPORT:
		snprintf(err, errlen, "address family not supported here (%s; is IPv6 disabled?)", where);
		break;
	default:
		snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(e));
		break;
	}
}

/* Create, bind and listen one socket.  Returns the fd or a negative errno. */
static evutil_socket_t listen_one(const struct evutil_addrinfo *ai, int backlog, int *error)
{
	evutil_socket_t fd;
	int one = 1;

	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd == (evutil_socket_t)EVUTIL_INVALID_SOCKET) {
		*error = sock_errno_of(EVUTIL_SOCKET_ERROR());
		return EVUTIL_INVALID_SOCKET;
	}
	if (evutil_make_socket_nonblocking(fd) < 0 || evutil_make_socket_closeonexec(fd) < 0)
		goto fail;
#ifndef _WIN32
	/* On Windows SO_REUSEADDR would allow stealing a bound port; the default is right there. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, (void *)&one, sizeof(one)) < 0)
		goto fail;
#endif
	if (ai->ai_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, (void *)&one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, ai->ai_addr, (int)ai->ai_addrlen) < 0)
		goto fail;
	if (listen(fd, backlog) < 0)
		goto fail;
	return fd;
fail:
	*error = sock_errno_of(EVUTIL_SOCKET_ERROR());
	evutil_closesocket(fd);
	return EVUTIL_INVALID_SOCKET;
}

/* An IPv4 or IPv6 address (no brackets): nothing to look up. */
static int is_numeric_host(const char *s)
{
	unsigned char buf[16];

	return evutil_inet_pton(AF_INET, s, buf) == 1 || evutil_inet_pton(AF_INET6, s, buf) == 1;
}

static int tcp_listen(void *state, const struct broker_url *url, struct broker_accept_sink *sink,
                      void **listener, char *err, size_t errlen)
{
	struct tcp_state *st = state;
	struct sock_listen_opts o;
	struct sock_listener *sl;
	struct evutil_addrinfo hints, *res = NULL, *ai;
	char hostname[TCP_HOST_MAX], port[8], where[TCP_HOST_MAX + 16];
	evutil_socket_t fd = EVUTIL_INVALID_SOCKET;
	int backlog, r, e = 0, saved = -1;
	const char *netns = host->url_param(url, "netns");

	if (strcmp(url->scheme, "udp") == 0) {
		snprintf(err, errlen, "udp:// is for connecting; UDP listeners are opened by port mappings");
		return -EOPNOTSUPP;
	}
	r = split_hostport(url->address, hostname, sizeof(hostname), port, sizeof(port), err, errlen);
	if (r < 0)
		return r;
	r = sock_listen_backlog(host, st->h, url, 511, &backlog, err, errlen);
	if (r < 0)
		return r;
	if (!evutil_ascii_strcasecmp(hostname, "localhost")) {
		snprintf(hostname, sizeof(hostname), "%s", TCP_DEFAULT_HOST);
	} else if (!is_numeric_host(hostname)) {
		snprintf(err, errlen,
		         "cannot listen on host name \"%s\": a listener takes an IP address (looking the name up "
		         "would block the broker); write tcp://127.0.0.1:%s, tcp://0.0.0.0:%s or the interface's "
		         "address",
		         hostname, port, port);
		return -EINVAL;
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICSERV | EVUTIL_AI_NUMERICHOST;
	r = evutil_getaddrinfo(hostname, port, &hints, &res);
	if (r != 0) {
		snprintf(err, errlen, "bad address \"%s\": %s", hostname, evutil_gai_strerror(r));
		return -EINVAL;
	}
	if (netns && (r = netns_enter(netns, &saved, err, errlen)) < 0) {
		evutil_freeaddrinfo(res);
		return r;
	}
	/* Bind the first address that works; report the first failure otherwise. */
	where[0] = '\0';
	for (ai = res; ai; ai = ai->ai_next) {
		int e1 = 0;

		fd = listen_one(ai, backlog, &e1);
		if (fd != (evutil_socket_t)EVUTIL_INVALID_SOCKET)
			break;
		if (!e) {
			e = e1;
			addr_text(ai->ai_addr, where, sizeof(where));
		}
	}
	evutil_freeaddrinfo(res);
	if (netns)
		netns_leave(saved);
	if (fd == (evutil_socket_t)EVUTIL_INVALID_SOCKET) {
		bind_error(e ? e : EADDRNOTAVAIL, where[0] ? where : hostname, port, err, errlen);
		return -(e ? e : EADDRNOTAVAIL);
	}

	{
		struct sockaddr_storage ss;
		ev_socklen_t sslen = sizeof(ss);

		if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0)
			addr_text((struct sockaddr *)&ss, where, sizeof(where));
		else
			snprintf(where, sizeof(where), "%s:%s", hostname, port);
	}
	memset(&o, 0, sizeof(o));
	o.scheme = "tcp";
	o.where = where;
	o.peer = accepted_peer;
	o.error_text = accept_error_text;
	r = sock_listen_start(host, st->h, sink, fd, &o, &sl, err, errlen);
	if (r < 0)
		return r;
	host->log(st->h, BROKER_LOG_DEBUG, "listening on %s (backlog %d)", where, backlog);
	*listener = sl;
	return 0;
}

/* ------------------------------------------------------------- connect */

static void pending_free(struct tcp_pending *p)
{
	if (p->wev)
		event_free(p->wev);
	if (p->timeout)
		event_free(p->timeout);
	if (p->done)
		event_free(p->done);
	if (p->fd != (evutil_socket_t)EVUTIL_INVALID_SOCKET)
		evutil_closesocket(p->fd);
	if (p->ai)
		evutil_freeaddrinfo(p->ai);
	free(p);
}

/*
 * Report a failure from the done event (always a later loop iteration).
 * fmt NULL keeps the reason already in p->reason.
 */
static void fail_later(struct tcp_pending *p, int error, const char *fmt, ...)
#if defined(__MINGW32__)
	__attribute__((format(gnu_printf, 3, 4)))
#elif defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;
static void fail_later(struct tcp_pending *p, int error, const char *fmt, ...)
{
	va_list ap;

	p->error = error;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
		va_end(ap);
	}
	if (p->wev) {
		event_free(p->wev);
		p->wev = NULL;
	}
	if (p->timeout)
		event_del(p->timeout);
	event_active(p->done, EV_TIMEOUT, 0);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_pending *p = arg;

	(void)fd;
	(void)what;
	host->connect_failed(p->req, p->error, p->reason);
	pending_free(p);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_pending *p = arg;
	long long ms = host->option_int(p->st->h, "connect_timeout_ms");

	(void)fd;
	(void)what;
	if (p->dns_req) {
		/* The DNS callback sees EVUTIL_EAI_CANCEL and reports the timeout. */
		p->error = -ETIMEDOUT;
		evdns_getaddrinfo_cancel(p->dns_req);
		return;
	}
	fail_later(p, -ETIMEDOUT, "timed out after %lld ms connecting to %s:%s", ms, p->host, p->port);
}

static void try_next(struct tcp_pending *p);

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_pending *p = arg;
	struct broker_stream_desc desc;
	char peer[96], where[INET6_ADDRSTRLEN + 16];
	int soerr = 0;
	ev_socklen_t len = sizeof(soerr);

	(void)what;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, (void *)&soerr, &len) < 0)
		soerr = EVUTIL_SOCKET_ERROR();
	addr_text(p->cur->ai_addr, where, sizeof(where));
	event_free(p->wev);
	p->wev = NULL;
	if (soerr != 0) {
		int e = sock_errno_of(soerr);

		p->error = -e;
		snprintf(p->reason, sizeof(p->reason), "cannot connect to %s: %s", where, strerror(e));
		evutil_closesocket(p->fd);
		p->fd = EVUTIL_INVALID_SOCKET;
		p->cur = p->cur->ai_next;
		try_next(p);
		return;
	}
	snprintf(peer, sizeof(peer), "%s:%s", p->dgram ? "udp" : "tcp", where);
	memset(&desc, 0, sizeof(desc));
	desc.rfd = (broker_fd)p->fd;
	desc.wfd = (broker_fd)p->fd;
	desc.flags = p->dgram ? BROKER_STREAM_DATAGRAM : BROKER_STREAM_SOCKET;
	desc.peer = peer;
	p->fd = EVUTIL_INVALID_SOCKET;  /* the core owns it now */
	host->connected(p->req, &desc);
	pending_free(p);
}

/*
 * Start connecting to p->cur, falling through the address list on immediate
 * failures.  Success (immediate or not) is seen by on_writable; running out
 * of addresses is reported through the done event.  Never reports directly.
 */
static void try_next(struct tcp_pending *p)
{
	struct event_base *base = host->event_base(p->st->h);

	for (; p->cur; p->cur = p->cur->ai_next) {
		struct evutil_addrinfo *ai = p->cur;
		char where[INET6_ADDRSTRLEN + 16];
		int e;

		addr_text(ai->ai_addr, where, sizeof(where));
		if (p->netns[0]) {
			int saved;
			char why[300];
			if ((e = -netns_enter(p->netns, &saved, why, sizeof(why))) > 0) {
				fail_later(p, -e, "%s", why);
				return;
			}
			p->fd = socket(ai->ai_family, p->dgram ? SOCK_DGRAM : SOCK_STREAM, p->dgram ? IPPROTO_UDP : IPPROTO_TCP);
			e = sock_errno_of(EVUTIL_SOCKET_ERROR());
			netns_leave(saved);
		} else {
			p->fd = socket(ai->ai_family, p->dgram ? SOCK_DGRAM : SOCK_STREAM, p->dgram ? IPPROTO_UDP : IPPROTO_TCP);
			e = sock_errno_of(EVUTIL_SOCKET_ERROR());
		}
		if (p->fd == (evutil_socket_t)EVUTIL_INVALID_SOCKET)
			goto next;
		if (evutil_make_socket_nonblocking(p->fd) < 0 ||
		    evutil_make_socket_closeonexec(p->fd) < 0) {
			e = sock_errno_of(EVUTIL_SOCKET_ERROR());
			goto next;
		}
		if (!p->dgram)
			set_nodelay(p->fd);
		if (connect(p->fd, ai->ai_addr, (int)ai->ai_addrlen) < 0) {
			int se = EVUTIL_SOCKET_ERROR();

			if (!connect_in_progress(se)) {
				e = sock_errno_of(se);
				goto next;
			}
		}
		/* In progress or already connected: writability tells which. */
		p->wev = event_new(base, p->fd, EV_WRITE, on_writable, p);
		if (!p->wev || event_add(p->wev, NULL) < 0) {
			e = ENOMEM;
			goto next;
		}
		return;
next:
		p->error = -e;
		snprintf(p->reason, sizeof(p->reason), "cannot connect to %s: %s", where, strerror(e));
		if (p->wev) {
			event_free(p->wev);
			p->wev = NULL;
		}
		if (p->fd != (evutil_socket_t)EVUTIL_INVALID_SOCKET) {
			evutil_closesocket(p->fd);
			p->fd = EVUTIL_INVALID_SOCKET;
		}
	}
	if (!p->error)
		fail_later(p, -EHOSTUNREACH, "no addresses for %s", p->host);
	else
		fail_later(p, p->error, NULL);
}

static void on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
	struct tcp_pending *p = arg;

	p->dns_req = NULL;
	if (p->cancelled) {
		/* connect_cancel ran while the lookup was in flight: only clean up. */
		if (res)
			evutil_freeaddrinfo(res);
		pending_free(p);
		return;
	}
	if (result == EVUTIL_EAI_CANCEL && p->error == -ETIMEDOUT) {
		fail_later(p, -ETIMEDOUT, "timed out resolving \"%s\"", p->host);
		return;
	}
	if (result != 0) {
		fail_later(p, -EHOSTUNREACH, "cannot resolve host \"%s\": %s", p->host,
		           evutil_gai_strerror(result));
		return;
	}
	p->ai = res;
	p->cur = res;
	try_next(p);
}

static int tcp_connect(void *state, const struct broker_url *url, struct broker_connect_req *req,
                       void **pending, char *err, size_t errlen)
{
	struct tcp_state *st = state;
	struct event_base *base = host->event_base(st->h);
	struct evutil_addrinfo hints;
	struct tcp_pending *p;
	long long ms;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->st = st;
	p->req = req;
	p->fd = EVUTIL_INVALID_SOCKET;
	p->dgram = strcmp(url->scheme, "udp") == 0;
	if (host->url_param(url, "netns"))
		snprintf(p->netns, sizeof(p->netns), "%s", host->url_param(url, "netns"));
	r = split_hostport(url->address, p->host, sizeof(p->host), p->port, sizeof(p->port),
	                   err, errlen);
	if (r < 0)
		goto fail;
	if (strcmp(p->port, "0") == 0) {
		snprintf(err, errlen, "cannot connect to port 0");
		r = -EINVAL;
		goto fail;
	}
	p->done = evtimer_new(base, on_done, p);
	p->timeout = evtimer_new(base, on_timeout, p);
	if (!p->done || !p->timeout) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto fail;
	}
	ms = host->option_int(st->h, "connect_timeout_ms");
	if (ms > 0) {
		struct timeval tv = { (long)(ms / 1000), (long)(ms % 1000) * 1000 };

		evtimer_add(p->timeout, &tv);
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = p->dgram ? SOCK_DGRAM : SOCK_STREAM;
	hints.ai_protocol = p->dgram ? IPPROTO_UDP : IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_NUMERICSERV | EVUTIL_AI_ADDRCONFIG;
	if (is_numeric_host(p->host)) {
		hints.ai_flags = EVUTIL_AI_NUMERICSERV | EVUTIL_AI_NUMERICHOST;
		r = evutil_getaddrinfo(p->host, p->port, &hints, &p->ai);
		if (r != 0) {
			snprintf(err, errlen, "bad address \"%s\": %s", p->host, evutil_gai_strerror(r));
			r = -EINVAL;
			goto fail;
		}
		p->cur = p->ai;
		*pending = p;
		try_next(p);
		return 0;
	}
	if (!st->dns) {
		st->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
		                               EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (!st->dns) {
			snprintf(err, errlen, "cannot set up name resolution (check /etc/resolv.conf)");
			r = -EIO;
			goto fail;
		}
	}
	*pending = p;
	/* May call on_resolved before returning (hosts file, localhost); it never reports directly. */
	p->dns_req = evdns_getaddrinfo(st->dns, p->host, p->port, &hints, on_resolved, p);
	return 0;
fail:
	pending_free(p);
	return r;
}

static void tcp_connect_cancel(void *state, void *pending)
{
	struct tcp_pending *p = pending;

	(void)state;
	if (!p)
		return;
	if (p->dns_req) {
		/* on_resolved runs later with EVUTIL_EAI_CANCEL and frees p. */
		p->cancelled = 1;
		event_del(p->timeout);
		evdns_getaddrinfo_cancel(p->dns_req);
		return;
	}
	pending_free(p);
}

/* ------------------------------------------------------------- plugin */

static const struct broker_option tcp_options[] = {
	{ BROKER_OPT_INT, "connect_timeout_ms", "10000",
	  "give up connecting after this many milliseconds (0: no limit)", 0, 86400000 },
	{ BROKER_OPT_INT, "backlog", "511",
	  "listen backlog (pending connections the kernel queues); ?backlog=N overrides", 1, 65535 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

static const char *const tcp_schemes[] = { "tcp", "udp", NULL };

static const struct broker_url_param_decl tcp_params[] = {
	{ "backlog", BROKER_PARAM_LISTEN, "tcp", "pending connections the kernel queues (overrides option backlog)" },
	{ "netns", BROKER_PARAM_LISTEN | BROKER_PARAM_CONNECT, NULL,
	  "network namespace: /run/netns/NAME, NAME or pid:N (Linux)" },
	{ NULL, 0, NULL, NULL },
};

static const struct broker_plugin tcp_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "tcp",
	.version = PACKAGE_VERSION,
	.description = "TCP endpoints over IPv4 and IPv6 (tcp://HOST:PORT)",
	.kinds = BROKER_KIND_ENDPOINT,
	.options = tcp_options,
	.init = tcp_init,
	.stop = tcp_stop,
	.fini = tcp_fini,
	.schemes = tcp_schemes,
	.url_params = tcp_params,
	.listen = tcp_listen,
	.unlisten = sock_listen_unlisten,
	.describe = sock_listen_describe_cb,
	.connect = tcp_connect,
	.connect_cancel = tcp_connect_cancel,
};

BROKER_PLUGIN_DEFINE(tcp_plugin, host)
