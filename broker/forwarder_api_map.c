/* forwarder_api_map.c - a gvproxy expose request as one of our routes (see
 * forwarder_api.h).  What gvproxy does with each protocol (its
 * pkg/services/forwarder/ports.go) and what we do instead:
 *   tcp    local HOST:PORT is Go's net.Listen address (":PORT" = every
 *          address); remote HOST:PORT is dialled inside the VM
 *          -> tcp://HOST:PORT here, peer:tcp://HOST:PORT there.
 *   udp    the same with UDP -> refused (500): our routes carry streams;
 *          the peer's UDP ports arrive as mappings instead.
 *   unix   local is a socket path; remote a URI: tcp://HOST:PORT (or
 *          ssh-tunnel://, which gvproxy dials over SSH)
 *          -> unix://PATH here, peer:tcp://... (and peer:unix:///PATH,
 *          ours); ssh-tunnel and other schemes are refused (500) with
 *          gvproxy's words.
 *   npipe  local is npipe:////./pipe/NAME (a URL, as gvproxy parses it)
 *          -> that URL here (the npipe plugin, Windows), remote as unix. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "broker/errfmt.h"
#include "broker/forwarder_api.h"
#include "broker/peer_policy.h"
#include "broker/printf_attr.h"
#include "broker/url.h"

#define HTTP_BAD 400
#define HTTP_FAIL 500

/* why, and the status to answer. */
BROKER_PRINTF(4, 5) static int bad(int status, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return status;
}

const char *fwd_protocol(const char *protocol)
{
	static const char *const known[] = { "tcp", "udp", "unix", "npipe" };

	if (!protocol || !*protocol)
		return "tcp";
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(protocol, known[i]))
			return known[i];
	return NULL;
}

/* 32-bit FNV-1a: a short, stable tag for a local too long to spell out in a name. */
static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

void fwd_route_name(const char *protocol, const char *local, char name[FWD_NAME_MAX])
{
	size_t n = (size_t)snprintf(name, FWD_NAME_MAX, "fwd-%s-", protocol);
	size_t room = FWD_NAME_MAX - 1 - n, len = strlen(local);
	bool cut = len > room;
	size_t keep = cut ? room - 9 : len;   /* "-" and 8 hex digits when cut */

	for (size_t i = 0; i < keep; i++) {
		unsigned char c = (unsigned char)local[i];
		name[n++] = isalnum(c) || c == '.' || c == '-' || c == '_' ? (char)c : '_';
	}
	name[n] = '\0';
	if (cut)
		snprintf(name + n, FWD_NAME_MAX - n, "-%08x", (unsigned)fnv1a(local));
}

/* No byte a URL would read as structure or a log line would carry badly. */
static bool plain(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == 0x7f || c == '?' || c == '#' || c == '%' || c == '@' || c == '"' || c == '\\')
			return false;
	}
	return true;
}

/* HOST:PORT (or [V6]:PORT) with a port 1-65535; host may be empty only where empty_host is given. */
static int host_port(const char *what, const char *text, const char *empty_host, char *host, size_t hostlen,
                     unsigned *port, char *why, size_t whylen)
{
	char err[256];

	if (!strchr(text, ':'))
		return bad(HTTP_BAD, why, whylen, "%s '%s': missing port in address (write HOST:PORT, e.g. 127.0.0.1:8080)",
		           what, text);
	if (!plain(text) || strchr(text, '/'))
		return bad(HTTP_BAD, why, whylen, "%s '%s': not a HOST:PORT address", what, text);
	if (url_split_host_port(text, empty_host ? empty_host : "", host, hostlen, port, err, sizeof(err)) < 0) {
		snprintf(why, whylen, "%s '%s': %s", what, text, err);
		return HTTP_BAD;
	}
	if (*port == 0)
		return bad(HTTP_BAD, why, whylen, "%s '%s': port 0 is not a port to forward (use 1-65535)", what, text);
	if (!*host)
		return bad(HTTP_BAD, why, whylen,
		           "%s '%s' names no host: gvproxy would use the caller's address, which a client of this socket "
		           "does not have; name the address in the guest, e.g. 127.0.0.1:%u",
		           what, text, *port);
	return 0;
}

static int join(char *out, size_t len, const char *prefix, const char *host, unsigned port)
{
	bool v6 = strchr(host, ':') != NULL;

	return (size_t)snprintf(out, len, "%s%s%s%s:%u", prefix, v6 ? "[" : "", host, v6 ? "]" : "", port) >= len
	               ? -ENAMETOOLONG
	               : 0;
}

/* A unix/npipe expose's remote: a URI naming what to reach in the guest. */
static int stream_remote(const char *remote, char *connect, size_t len, char *why, size_t whylen)
{
	char host[256];
	unsigned port;
	int st;

	if (!strncmp(remote, "tcp://", 6)) {
		if ((st = host_port("remote", remote + 6, NULL, host, sizeof(host), &port, why, whylen)) != 0)
			return st;
		return join(connect, len, "peer:tcp://", host, port) < 0
		               ? bad(HTTP_BAD, why, whylen, "remote '%s': too long%s", remote, "")
		               : 0;
	}
	if (!strncmp(remote, "unix:///", 8)) {
		if (!plain(remote))
			return bad(HTTP_BAD, why, whylen, "remote '%s': not a socket path%s", remote, "");
		if ((size_t)snprintf(connect, len, "peer:%s", remote) >= len)
			return bad(HTTP_BAD, why, whylen, "remote '%s': too long%s", remote, "");
		return 0;
	}
	{
		/* gvproxy's words for a scheme it does not dial. */
		char scheme[32];
		const char *colon = strstr(remote, "://");
		size_t n = colon ? (size_t)(colon - remote) : 0;
		if (!colon || n == 0 || n >= sizeof(scheme))
			return bad(HTTP_BAD, why, whylen,
			           "failed to parse remote uri :%s : write tcp://HOST:PORT or unix:///PATH%s", remote, "");
		memcpy(scheme, remote, n);
		scheme[n] = '\0';
		return bad(HTTP_FAIL, why, whylen,
		           "remote protocol for unix forwarder is not implemented: %s (brokerd reaches tcp://HOST:PORT "
		           "and unix:///PATH in the guest)%s",
		           scheme, "");
	}
}

int fwd_translate(const char *protocol, const char *local, const char *remote, struct fwd_route *out, char *why,
                  size_t whylen)
{
	char host[256];
	unsigned port;
	int st;

	fwd_route_name(protocol, local, out->name);
	if (!strcmp(protocol, "udp"))
		return bad(HTTP_FAIL, why, whylen,
		           "udp on %s: brokerd's forwarder API forwards streams (tcp, unix, npipe); the guest's UDP "
		           "ports reach the host as mappings (brokerctl mapping list)%s",
		           local, "");
	if (!strcmp(protocol, "tcp")) {
		/* Go's net.Listen(":PORT") takes every address; 0.0.0.0 is ours for that. */
		if ((st = host_port("local", local, "0.0.0.0", host, sizeof(host), &port, why, whylen)) != 0)
			return st;
		if (join(out->listen, sizeof(out->listen), "tcp://", host, port) < 0)
			return bad(HTTP_BAD, why, whylen, "local '%s': too long%s", local, "");
		if ((st = host_port("remote", remote, NULL, host, sizeof(host), &port, why, whylen)) != 0)
			return st;
		if (join(out->connect, sizeof(out->connect), "peer:tcp://", host, port) < 0)
			return bad(HTTP_BAD, why, whylen, "remote '%s': too long%s", remote, "");
		return 0;
	}
	if (!strcmp(protocol, "unix")) {
		if (local[0] != '/' || !plain(local))
			return bad(HTTP_BAD, why, whylen, "local '%s': a unix forward listens on an absolute socket path, "
			           "e.g. /run/user/1000/app.sock%s", local, "");
		if ((size_t)snprintf(out->listen, sizeof(out->listen), "unix://%s", local) >= sizeof(out->listen))
			return bad(HTTP_BAD, why, whylen, "local '%s': too long%s", local, "");
	} else {
		if (strncmp(local, "npipe:////./pipe/", 17) != 0 || !local[17] || !plain(local))
			return bad(HTTP_BAD, why, whylen,
			           "local '%s': an npipe forward listens on npipe:////./pipe/NAME%s", local, "");
		if ((size_t)snprintf(out->listen, sizeof(out->listen), "%s", local) >= sizeof(out->listen))
			return bad(HTTP_BAD, why, whylen, "local '%s': too long%s", local, "");
	}
	return stream_remote(remote, out->connect, sizeof(out->connect), why, whylen);
}

int forwarder_api_url_check(const char *url, char *why, size_t whylen)
{
	char host[256], err[256];
	unsigned port;

	if (!strncmp(url, "unix://", 7)) {
		if (url[7] != '/')
			return errfmt(why, whylen, -EINVAL, "'%s': write unix:///ABSOLUTE/PATH", url);
		if (!plain(url))
			return errfmt(why, whylen, -EINVAL, "'%s': the path may not hold spaces, '?', '#', '%%' or '@'", url);
		return 0;
	}
	if (!strncmp(url, "tcp://", 6)) {
		if (url_split_host_port(url + 6, "127.0.0.1", host, sizeof(host), &port, err, sizeof(err)) < 0)
			return errfmt(why, whylen, -EINVAL, "'%s': %s", url, err);
		/* Anyone on the network could add routes otherwise; every local user still can (see brokerd(8)). */
		if (!peer_policy_is_loopback(host))
			return errfmt(why, whylen, -EINVAL,
			              "'%s': the forwarder API listens on loopback only (tcp://127.0.0.1:PORT), or on a "
			              "unix:///PATH, which only this user can reach",
			              url);
		return 0;
	}
	return errfmt(why, whylen, -EINVAL, "'%s': write unix:///PATH or tcp://127.0.0.1:PORT", url);
}
