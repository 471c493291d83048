/* peer_auth.c - which links must prove the shared secret: decided per
 * connected carrier from the scheme, the role, and who the kernel says is
 * on the other end (SO_PEERCRED, the vsock CID, the socket file's owner). */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/errfmt.h"
#include "broker/peer_auth.h"
#include "broker/printf_attr.h"
#include "broker/url.h"

/* The link's own URL parameters; the endpoint plugin never sees them. */
static bool link_param(const char *key)
{
	return !strcmp(key, "auth") || !strcmp(key, "encrypt");
}

/* url without the link's parameters (kept as written, escapes and all). */
static char *strip_link_params(const char *url)
{
	const char *q = strchr(url, '?');
	size_t n = q ? (size_t)(q - url) : strlen(url);
	char *out = malloc(strlen(url) + 1);
	bool first = true;

	if (!out)
		return NULL;
	memcpy(out, url, n);
	out[n] = '\0';
	for (const char *p = q ? q + 1 : NULL; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;
		char key[32];
		if (klen >= sizeof(key) || (snprintf(key, sizeof(key), "%.*s", (int)klen, p), !link_param(key))) {
			strcat(out, first ? "?" : "&");
			strncat(out, p, len);
			first = false;
		}
		p = amp ? amp + 1 : NULL;
	}
	return out;
}

int carrier_opts_parse(const char *url, enum peer_auth_role role, struct carrier_opts *o, char *err, size_t errlen)
{
	struct url u;
	const char *auth, *encrypt;
	int rc;

	memset(o, 0, sizeof(*o));
	if (role == PEER_AUTH_STDIO) {
		snprintf(o->scheme, sizeof(o->scheme), "stdio");
		o->address = strdup("");
		o->plugin_url = strdup(url);
		return o->address && o->plugin_url ? 0 : errfmt(err, errlen, -ENOMEM, "out of memory");
	}
	if ((rc = url_parse(url, &u, err, errlen)) < 0)
		return rc;
	if (u.is_peer) {
		rc = errfmt(err, errlen, -EINVAL, "%s: a link carrier is an endpoint here, without \"peer:\"", url);
		goto out;
	}
	snprintf(o->scheme, sizeof(o->scheme), "%s", u.pub.scheme);
	auth = url_param(&u.pub, "auth");
	if (auth && strcmp(auth, "required")) {
		rc = errfmt(err, errlen, -EINVAL,
		            "%s: ?auth=%s is not accepted: whether a peer must prove the secret follows from the "
		            "carrier (broker-link(7), Authentication); drop it, or write ?auth=required to demand the "
		            "secret from every peer",
		            url, auth);
		goto out;
	}
	o->auth_required = auth != NULL;
	/* tcp leaves the machine: sealed unless both ends opt out, in writing. */
	encrypt = url_param(&u.pub, "encrypt");
	if (encrypt && strcmp(u.pub.scheme, "tcp")) {
		rc = errfmt(err, errlen, -EINVAL, "%s: ?encrypt= applies to tcp carriers only (the others do not leave "
		            "this machine)", url);
		goto out;
	}
	if (encrypt && strcmp(encrypt, "on") && strcmp(encrypt, "off")) {
		rc = errfmt(err, errlen, -EINVAL, "%s: ?encrypt=%s: write on (the default) or off", url, encrypt);
		goto out;
	}
	o->encrypt = !strcmp(u.pub.scheme, "tcp") && !(encrypt && !strcmp(encrypt, "off"));
	o->abstract = !strcmp(u.pub.scheme, "unix") && u.pub.address[0] == '@';
	o->address = strdup(u.pub.address);
	o->plugin_url = auth || encrypt ? strip_link_params(url) : strdup(url);
	if (!o->address || !o->plugin_url)
		rc = errfmt(err, errlen, -ENOMEM, "out of memory");
out:
	url_free(&u);
	if (rc < 0)
		carrier_opts_free(o);
	return rc;
}

void carrier_opts_free(struct carrier_opts *o)
{
	free(o->address);
	free(o->plugin_url);
	o->address = o->plugin_url = NULL;
}

void carrier_facts_get(struct carrier_facts *f, enum peer_auth_role role, const struct carrier_opts *o,
                       broker_fd fd, char *path_why, size_t path_why_len)
{
	memset(f, 0, sizeof(*f));
	f->role = role;
	f->opts = o;
	f->our_uid = platform_euid();
	path_why[0] = '\0';
	f->path_why = path_why;
	if (role == PEER_AUTH_STDIO)
		return;
	platform_sock_peer(fd, &f->peer);
	/* Dialing a Unix socket file: someone else could have put it there. */
	if (role == PEER_AUTH_CONNECT && !strcmp(o->scheme, "unix") && !o->abstract)
		f->path_private = platform_unix_path_private(o->address, path_why, path_why_len);
}

/* One line of why into why, and the verdict back. */
static bool say(bool verdict, char *why, size_t whylen, const char *fmt, ...) BROKER_PRINTF(4, 5);
static bool say(bool verdict, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return verdict;
}

bool peer_auth_required(const struct carrier_facts *f, char *why, size_t whylen)
{
	const char *s = f->opts->scheme;
	bool listen = f->role == PEER_AUTH_LISTEN;

	if (f->role == PEER_AUTH_STDIO)
		return say(false, why, whylen, "our standard input and output, from the parent that started us");
	if (f->opts->auth_required)
		return say(true, why, whylen, "the carrier says ?auth=required");
	if (!listen && !strcmp(s, "exec"))
		return say(false, why, whylen, "the standard input and output of our own child process");
	if (!strcmp(s, "tcp"))
		return say(true, why, whylen, "anyone who reaches a TCP address can connect");
	if (!strcmp(s, "unix")) {
		if (f->peer.kind != PLATFORM_PEER_UNIX || f->peer.uid < 0)
			return say(true, why, whylen, "nothing tells who is on the other end of this Unix socket");
		if (f->peer.uid != f->our_uid && f->peer.uid != 0)
			return say(true, why, whylen, "%s runs as uid %ld, not as us (uid %ld) or root",
			              listen ? "the peer" : "the process serving the socket", f->peer.uid, f->our_uid);
		if (!listen && !f->opts->abstract && f->path_private != 0)
			return say(true, why, whylen, "%s", f->path_why && *f->path_why ? f->path_why
			                                                                : "the socket file is not private");
		return say(false, why, whylen, "a Unix socket whose peer runs as uid %ld", f->peer.uid);
	}
	if (!strcmp(s, "vsock")) {
		if (!listen)
			return say(false, why, whylen, "we dialed the virtual machine");
		if (f->peer.kind == PLATFORM_PEER_VSOCK && f->peer.cid == PLATFORM_VSOCK_CID_HOST)
			return say(false, why, whylen, "the peer is the host (vsock CID %d)", PLATFORM_VSOCK_CID_HOST);
		return say(true, why, whylen, "the peer is vsock CID %ld, not the host (%d): any virtual machine or "
		              "process in one could connect", f->peer.kind == PLATFORM_PEER_VSOCK ? (long)f->peer.cid : -1L,
		              PLATFORM_VSOCK_CID_HOST);
	}
	if (!strcmp(s, "hvsock") && !listen)
		return say(false, why, whylen, "we dialed the virtual machine");
	if (!strcmp(s, "hvsock"))
		return say(true, why, whylen, "any virtual machine could connect to a Hyper-V socket");
	return say(true, why, whylen, "%s: nothing vouches for who is on the other end", s);
}

const char *peer_auth_describe(enum peer_auth_role role, const struct carrier_opts *o)
{
	const char *s = o->scheme;

	if (role == PEER_AUTH_STDIO)
		return "no authentication: our parent started us";
	if (o->auth_required)
		return "authentication required (?auth=required)";
	if (!strcmp(s, "tcp"))
		return "authentication required";
	if (!strcmp(s, "unix"))
		return role == PEER_AUTH_LISTEN
		               ? "authentication required from peers not running as this user or root"
		               : "authentication required unless the socket is served by this user or root from a "
		                 "directory only they can write";
	if (!strcmp(s, "vsock") || !strcmp(s, "hvsock")) {
		if (role == PEER_AUTH_CONNECT)
			return "no authentication: we dial the virtual machine";
		return !strcmp(s, "vsock") ? "authentication required from peers other than the host (CID 2)"
		                           : "authentication required";
	}
	if (!strcmp(s, "exec") && role == PEER_AUTH_CONNECT)
		return "no authentication: our own child's standard input and output";
	return "authentication required";
}
