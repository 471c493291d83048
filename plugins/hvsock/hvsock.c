/*
 * plugins/hvsock/hvsock.c - endpoint plugin for Hyper-V sockets (AF_HYPERV),
 * the Windows side of a VM's vsock: WSL2 and Hyper-V guests reach the host
 * through them without any network.
 *
 *   listen:  hvsock://VMID:PORT     (VMID usually "wildcard", or one VM's GUID)
 *   connect: hvsock://VMID:PORT     (VMID a VM's GUID; "loopback" for tests)
 *
 * VMID: a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, braces allowed) or one
 * of the well-known names wildcard (or any), children, loopback, parent,
 * silohost.  PORT: a vsock port number (decimal or 0x hex); the service GUID
 * is Hyper-V's VSOCK template with the port in the first four bytes,
 * PORT-facb-11e6-bd58-64006a7986d3, which a Linux guest reaches as
 * vsock://2:PORT.  A full service GUID is accepted instead of PORT.
 *
 * Hyper-V sockets need the service registered under HKLM\SOFTWARE\Microsoft\
 * Windows NT\CurrentVersion\Virtualization\GuestCommunicationServices for
 * guests to connect (see README.md).  Where AF_HYPERV does not exist (wine,
 * old Windows) listen and connect fail with "Hyper-V sockets are not
 * available here (AF_HYPERV)".
 *
 * Same deferred-completion rules as tcp: connect is non-blocking and reports
 * from a later loop event, bounded by connect_timeout_ms (the connect itself
 * is plugins/common/sock_connect.c, shared with vsock).  Accepting is
 * plugins/common/sock_listen.c (shared with tcp, unix and vsock): accept
 * errors pause the listener briefly instead of spinning.
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>
#include <windows.h>

#include <event2/event.h>
#include <event2/util.h>

#include "broker/plugin.h"
#include "plugins/common/sock_connect.h"
#include "plugins/common/sock_listen.h"

static const struct broker_host *host;

/* From hvsocket.h, spelled out so older mingw headers do. */
#define HV_AF_HYPERV 34
#define HV_PROTOCOL_RAW_ 1

struct hv_guid {
	uint32_t d1;
	uint16_t d2, d3;
	uint8_t d4[8];
};

struct sockaddr_hv_ {
	ADDRESS_FAMILY family;
	USHORT reserved;
	struct hv_guid vm_id;
	struct hv_guid service_id;
};

static const struct {
	const char *name;
	struct hv_guid id;
} hv_names[] = {
	{ "wildcard", { 0, 0, 0, { 0, 0, 0, 0, 0, 0, 0, 0 } } },
	{ "any", { 0, 0, 0, { 0, 0, 0, 0, 0, 0, 0, 0 } } },
	{ "children", { 0x90db8b89, 0x0d35, 0x4f79, { 0x8c, 0xe9, 0x49, 0xea, 0x0a, 0xc8, 0xb7, 0xcd } } },
	{ "loopback", { 0xe0e16197, 0xdd56, 0x4a10, { 0x91, 0x95, 0x5e, 0xe7, 0xa1, 0x55, 0xa8, 0x38 } } },
	{ "parent", { 0xa42e7cda, 0xd03f, 0x480c, { 0x9c, 0xc2, 0xa4, 0xde, 0x20, 0xab, 0xb8, 0x78 } } },
	{ "silohost", { 0x36bd0c5c, 0x7276, 0x4223, { 0x88, 0xba, 0x7d, 0x03, 0xb6, 0x54, 0xc5, 0x68 } } },
};

static const struct hv_guid vsock_template = {
	0x00000000, 0xfacb, 0x11e6, { 0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3 }
};

#define HV_NOT_AVAILABLE "Hyper-V sockets are not available here (AF_HYPERV)"
#define HV_NOSOCK ((evutil_socket_t)-1)

/* ------------------------------------------------------------- addresses */

static int parse_guid(const char *s, size_t len, struct hv_guid *g)
{
	char buf[40];
	unsigned v[11];
	int n = 0, i;

	if (len >= 2 && s[0] == '{' && s[len - 1] == '}') {
		s++;
		len -= 2;
	}
	if (len != 36)
		return -EINVAL;
	memcpy(buf, s, 36);
	buf[36] = '\0';
	for (i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? buf[i] != '-' : !isxdigit((unsigned char)buf[i]))
			return -EINVAL;
	}
	if (sscanf(buf, "%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
	           &v[6], &v[7], &v[8], &v[9], &v[10], &n) != 11 || n != 36)
		return -EINVAL;
	g->d1 = v[0];
	g->d2 = (uint16_t)v[1];
	g->d3 = (uint16_t)v[2];
	for (i = 0; i < 8; i++)
		g->d4[i] = (uint8_t)v[3 + i];
	return 0;
}

static void guid_text(const struct hv_guid *g, char *buf, size_t len)
{
	snprintf(buf, len, "%08lx-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", (unsigned long)g->d1, g->d2, g->d3,
	         g->d4[0], g->d4[1], g->d4[2], g->d4[3], g->d4[4], g->d4[5], g->d4[6], g->d4[7]);
}

/* "VMID:PORT" -> sockaddr; where = "VMID:PORT" for logs. */
static int parse_address(const char *address, struct sockaddr_hv_ *sa, char *where, size_t wlen,
                         char *err, size_t errlen)
{
	const char *colon = strrchr(address, ':');
	const char *svc;
	size_t vlen, i;
	int found = 0;

	memset(sa, 0, sizeof(*sa));
	sa->family = HV_AF_HYPERV;
	if (!colon) {
		snprintf(err, errlen, "missing port in \"%s\" (write hvsock://VMID:PORT, e.g. hvsock://wildcard:5000)",
		         address);
		return -EINVAL;
	}
	vlen = (size_t)(colon - address);
	for (i = 0; i < sizeof(hv_names) / sizeof(hv_names[0]); i++) {
		if (strlen(hv_names[i].name) == vlen && _strnicmp(address, hv_names[i].name, vlen) == 0) {
			sa->vm_id = hv_names[i].id;
			found = 1;
			break;
		}
	}
	if (!found && parse_guid(address, vlen, &sa->vm_id) < 0) {
		snprintf(err, errlen, "bad VM id \"%.*s\" (a GUID, or wildcard, children, loopback, parent, silohost)",
		         (int)vlen, address);
		return -EINVAL;
	}
	svc = colon + 1;
	if (parse_guid(svc, strlen(svc), &sa->service_id) < 0) {
		char *end;
		unsigned long long port;

		errno = 0;
		port = strtoull(svc, &end, 0);
		if (!*svc || *end || errno || port > 0xffffffffULL || svc[0] == '-') {
			snprintf(err, errlen, "bad port \"%s\" (a vsock port number, or a service GUID)", svc);
			return -EINVAL;
		}
		sa->service_id = vsock_template;
		sa->service_id.d1 = (uint32_t)port;
	}
	snprintf(where, wlen, "%.*s:%s", (int)vlen, address, svc);
	return 0;
}

static int hv_errno(int e)
{
	switch (e) {
	case WSAEAFNOSUPPORT:
	case WSAEPROTONOSUPPORT:
	case WSAESOCKTNOSUPPORT:
	case WSAEINVAL:
		return EAFNOSUPPORT;
	case WSAEADDRINUSE: return EADDRINUSE;
	case WSAEACCES: return EACCES;
	case WSAECONNREFUSED: return ECONNREFUSED;
	case WSAETIMEDOUT: return ETIMEDOUT;
	case WSAENETUNREACH: return ENETUNREACH;
	case WSAEHOSTUNREACH: return EHOSTUNREACH;
	default: return EIO;
	}
}

static evutil_socket_t hv_socket(int *e)
{
	SOCKET s = socket(HV_AF_HYPERV, SOCK_STREAM, HV_PROTOCOL_RAW_);

	if (s == INVALID_SOCKET) {
		*e = WSAGetLastError();
		return HV_NOSOCK;
	}
	return (evutil_socket_t)s;
}

static void sock_error(int wsa, const char *what, const char *where, char *err, size_t errlen)
{
	switch (wsa) {
	case WSAEAFNOSUPPORT:
	case WSAEPROTONOSUPPORT:
	case WSAESOCKTNOSUPPORT:
		snprintf(err, errlen, HV_NOT_AVAILABLE);
		break;
	case WSAEADDRINUSE:
		snprintf(err, errlen, "%s: address already in use (another program listens on this service id)", where);
		break;
	case WSAEACCES:
		snprintf(err, errlen, "%s: access denied (listening on Hyper-V sockets may need the service "
		         "registered under GuestCommunicationServices, or admin rights)", where);
		break;
	case WSAECONNREFUSED:
		snprintf(err, errlen, "%s: connection refused (nothing listens on that VM and port)", where);
		break;
	case WSAETIMEDOUT:
		snprintf(err, errlen, "%s: timed out (is the VM running and the port registered?)", where);
		break;
	default:
		snprintf(err, errlen, "%s: %s failed (Windows socket error %d)", where, what, wsa);
		break;
	}
}

/* ------------------------------------------------------------- listen */

/* "hvsock:VMGUID" for an accepted socket (sock_listen_peer_fn). */
static void accepted_peer(evutil_socket_t fd, const struct sockaddr *sa, int salen, char *buf,
                          size_t len)
{
	(void)fd;
	snprintf(buf, len, "hvsock:?");
	if (salen >= (int)sizeof(struct sockaddr_hv_)) {
		const struct sockaddr_hv_ *hv = (const struct sockaddr_hv_ *)sa;
		char vm[40];

		guid_text(&hv->vm_id, vm, sizeof(vm));
		snprintf(buf, len, "hvsock:%s", vm);
	}
}

static void accept_error_text(int e, char *buf, size_t len)
{
	snprintf(buf, len, "Windows socket error %d", e);
}

static int hv_listen(void *state, const struct broker_url *url, struct broker_accept_sink *sink,
                     void **listener, char *err, size_t errlen)
{
	struct broker_plugin_handle *h = state;
	struct sockaddr_hv_ sa;
	struct sock_listen_opts o;
	struct sock_listener *sl;
	evutil_socket_t fd;
	char where[128];
	int r, e = 0;

	r = parse_address(url->address, &sa, where, sizeof(where), err, errlen);
	if (r < 0)
		return r;
	fd = hv_socket(&e);
	if (fd == HV_NOSOCK) {
		sock_error(e, "socket", where, err, errlen);
		return -hv_errno(e);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, SOMAXCONN) < 0) {
		e = WSAGetLastError();
		evutil_closesocket(fd);
		sock_error(e, "bind/listen", where, err, errlen);
		return -hv_errno(e);
	}
	evutil_make_socket_nonblocking(fd);
	memset(&o, 0, sizeof(o));
	o.scheme = "hvsock";
	o.where = where;
	o.peer = accepted_peer;
	o.error_text = accept_error_text;
	r = sock_listen_start(host, h, sink, fd, &o, &sl, err, errlen);
	if (r < 0)
		return r;
	host->log(h, BROKER_LOG_DEBUG, "listening on hvsock://%s", where);
	*listener = sl;
	return 0;
}

/* ------------------------------------------------------------- connect */

/* The reason and negative errno for a failed connect (sock_connect_why_fn; e 0: timed out). */
static int connect_why(const char *where, int e, long long timeout_ms, char *reason, size_t len)
{
	(void)timeout_ms;
	if (e == 0)
		e = WSAETIMEDOUT;
	sock_error(e, "connect", where, reason, len);
	return -hv_errno(e);
}

static int hv_connect(void *state, const struct broker_url *url, struct broker_connect_req *req,
                      void **pending, char *err, size_t errlen)
{
	struct broker_plugin_handle *h = state;
	struct sockaddr_hv_ sa;
	struct sock_connect_opts o;
	struct sock_connect *sc;
	evutil_socket_t fd;
	char where[128], peer[160];
	int r, e = 0;

	r = parse_address(url->address, &sa, where, sizeof(where), err, errlen);
	if (r < 0)
		return r;
	fd = hv_socket(&e);
	if (fd == HV_NOSOCK) {
		sock_error(e, "socket", where, err, errlen);
		return -hv_errno(e);
	}
	evutil_make_socket_nonblocking(fd);
	snprintf(peer, sizeof(peer), "hvsock:%s", where);
	memset(&o, 0, sizeof(o));
	o.name = "hvsock";
	o.where = where;
	o.peer = peer;
	o.flags = BROKER_STREAM_SOCKET;
	o.timeout_ms = host->option_int(h, "connect_timeout_ms");
	o.why = connect_why;
	r = sock_connect_start(host, host->event_base(h), req, fd, (struct sockaddr *)&sa, (int)sizeof(sa),
	                       &o, &sc, err, errlen);
	if (r < 0)
		return r;
	*pending = sc;
	return 0;
}

/* ------------------------------------------------------------- lifecycle */

/* The plugin keeps nothing but its handle: that is its state. */
static int hv_init(struct broker_plugin_handle *h, void **state, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	*state = h;
	return 0;
}

static const struct broker_option hv_options[] = {
	{ BROKER_OPT_INT, "connect_timeout_ms", "10000",
	  "give up connecting after this many milliseconds (0: no limit)", 0, 86400000 },
	{ BROKER_OPT_END, NULL, NULL, NULL, 0, 0 },
};

static const char *const hv_schemes[] = { "hvsock", NULL };

/* No URL parameters. */
static const struct broker_url_param_decl hv_params[] = {
	{ NULL, 0, NULL, NULL },
};

static const struct broker_plugin hv_plugin = {
	BROKER_PLUGIN_HEADER,
	.name = "hvsock",
	.version = PACKAGE_VERSION,
	.description = "Hyper-V sockets (hvsock://VMID:PORT), the host side of a VM's vsock",
	.kinds = BROKER_KIND_ENDPOINT,
	.options = hv_options,
	.init = hv_init,
	.schemes = hv_schemes,
	.url_params = hv_params,
	.listen = hv_listen,
	.unlisten = sock_listen_unlisten,
	.describe = sock_listen_describe_cb,
	.connect = hv_connect,
	.connect_cancel = sock_connect_cancel_cb,
};

BROKER_PLUGIN_DEFINE(hv_plugin, host)
