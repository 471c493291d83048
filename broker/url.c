/* url.c - split an endpoint URL into scheme, address and query options. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker/errfmt.h"
#include "broker/url.h"

#define PEER_PREFIX "peer:"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decode src[0..len) into dst (which has room for len + 1 bytes,
 * since decoding never grows).  A decoded NUL is refused: every consumer
 * treats these as C strings and a silent truncation would change the
 * meaning of a path.
 */
static int pct_decode(const char *src, size_t len, char *dst, const char *what, const char *text,
                      char *err, size_t errlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (src[i] != '%') {
			dst[o++] = src[i];
			continue;
		}
		int hi = i + 1 < len ? hexval((unsigned char)src[i + 1]) : -1;
		int lo = i + 2 < len ? hexval((unsigned char)src[i + 2]) : -1;
		if (hi < 0 || lo < 0)
			return errfmt(err, errlen, -EINVAL,
			              "%s: bad percent-escape in %s (write %%XX with two hex digits, e.g. %%20)",
			              text, what);
		int c = hi * 16 + lo;
		if (c == 0)
			return errfmt(err, errlen, -EINVAL, "%s: %%00 is not allowed in %s", text, what);
		dst[o++] = (char)c;
		i += 2;
	}
	dst[o] = '\0';
	return 0;
}

/* Split the query into params; keys must be non-empty and unique. */
static int parse_query(struct url *u, const char *q, size_t qlen, char **cursor, const char *text,
                       char *err, size_t errlen)
{
	size_t n = 1;
	int r;

	for (size_t i = 0; i < qlen; i++)
		if (q[i] == '&')
			n++;
	u->params = calloc(n, sizeof(*u->params));
	if (!u->params)
		return errfmt(err, errlen, -ENOMEM, "%s: out of memory", text);

	size_t np = 0;
	const char *p = q, *end = q + qlen;
	while (p <= end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		if (stop == p) {
			/* Tolerate "a=1&&b=2" and a trailing '&': nothing to record. */
			if (!amp)
				break;
			p = amp + 1;
			continue;
		}
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		const char *kend = eq ? eq : stop;
		if (kend == p)
			return errfmt(err, errlen, -EINVAL, "%s: empty option name in query", text);

		char *key = *cursor;
		r = pct_decode(p, (size_t)(kend - p), key, "option name", text, err, errlen);
		if (r < 0)
			return r;
		*cursor += strlen(key) + 1;
		char *val = *cursor;
		if (eq)
			r = pct_decode(eq + 1, (size_t)(stop - eq - 1), val, "option value", text, err, errlen);
		else
			val[0] = '\0';
		if (r < 0)
			return r;
		*cursor += strlen(val) + 1;

		for (size_t i = 0; i < np; i++)
			if (strcmp(u->params[i].key, key) == 0)
				return errfmt(err, errlen, -EINVAL, "%s: option '%s' given twice (keep one)",
				              text, key);
		u->params[np].key = key;
		u->params[np].value = val;
		np++;
		if (!amp)
			break;
		p = amp + 1;
	}
	u->pub.nparams = np;
	u->pub.params = u->params;
	return 0;
}

int url_parse(const char *text, struct url *out, char *err, size_t errlen)
{
	struct url u = { 0 };
	const char *s = text;
	int r;

	memset(out, 0, sizeof(*out));
	if (!text || !*text)
		return errfmt(err, errlen, -EINVAL, "empty URL (write scheme://address, e.g. unix:///run/x.sock)");
	if (strncasecmp(s, PEER_PREFIX, strlen(PEER_PREFIX)) == 0) {
		u.is_peer = true;
		s += strlen(PEER_PREFIX);
	}

	size_t slen = 0;
	if (isalpha((unsigned char)s[0])) {
		slen = 1;
		while (isalnum((unsigned char)s[slen]) || s[slen] == '+' || s[slen] == '.' || s[slen] == '-')
			slen++;
	}
	if (slen == 0 || s[slen] != ':')
		return errfmt(err, errlen, -EINVAL,
		              "%s: missing scheme (write scheme://address, e.g. tcp://127.0.0.1:8080)", text);

	const char *rest = s + slen + 1;
	if (rest[0] == '/' && rest[1] == '/')
		rest += 2;
	const char *qmark = strchr(rest, '?');
	size_t alen = qmark ? (size_t)(qmark - rest) : strlen(rest);
	if (alen == 0)
		return errfmt(err, errlen, -EINVAL, "%s: missing address after '%.*s:'", text, (int)slen, s);

	/*
	 * One block holds every string: the text (minus "peer:"), the scheme,
	 * the decoded address and the decoded params.  Decoding never grows a
	 * string, so the input length bounds each part.
	 */
	size_t tlen = strlen(s);
	u.storage = malloc(tlen + 1 + slen + 1 + tlen + 1 + 2 * (tlen + 1));
	if (!u.storage)
		return errfmt(err, errlen, -ENOMEM, "%s: out of memory", text);
	char *cur = u.storage;

	/* Plugins see the endpoint URL itself; which broker it lives on is the core's business. */
	memcpy(cur, s, tlen + 1);
	u.pub.text = cur;
	cur += tlen + 1;

	for (size_t i = 0; i < slen; i++)
		cur[i] = (char)tolower((unsigned char)s[i]);
	cur[slen] = '\0';
	u.pub.scheme = cur;
	cur += slen + 1;

	r = pct_decode(rest, alen, cur, "address", text, err, errlen);
	if (r < 0)
		goto fail;
	u.pub.address = cur;
	cur += strlen(cur) + 1;
	if (!*u.pub.address) {
		r = errfmt(err, errlen, -EINVAL, "%s: empty address", text);
		goto fail;
	}

	if (qmark) {
		r = parse_query(&u, qmark + 1, strlen(qmark + 1), &cur, text, err, errlen);
		if (r < 0)
			goto fail;
	}
	*out = u;
	return 0;
fail:
	url_free(&u);
	return r;
}

void url_free(struct url *u)
{
	if (!u)
		return;
	free(u->storage);
	free(u->params);
	memset(u, 0, sizeof(*u));
}

const char *url_param(const struct broker_url *u, const char *key)
{
	if (!u || !key)
		return NULL;
	for (size_t i = 0; i < u->nparams; i++)
		if (strcmp(u->params[i].key, key) == 0)
			return u->params[i].value;
	return NULL;
}

static int parse_port(const char *s, size_t len, unsigned *port, const char *address, char *err,
                      size_t errlen)
{
	unsigned long v = 0;

	if (len == 0)
		return errfmt(err, errlen, -EINVAL, "%s: missing port (write HOST:PORT, e.g. 127.0.0.1:8080)",
		              address);
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return errfmt(err, errlen, -EINVAL, "%s: port '%.*s' is not a number", address,
			              (int)len, s);
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > 65535)
			return errfmt(err, errlen, -ERANGE, "%s: port %.*s out of range (0-65535)", address,
			              (int)len, s);
	}
	*port = (unsigned)v;
	return 0;
}

static int set_host(const char *h, size_t len, const char *default_host, char *host, size_t hostlen,
                    const char *address, char *err, size_t errlen)
{
	if (len == 0) {
		h = default_host ? default_host : "";
		len = strlen(h);
	}
	if (len + 1 > hostlen)
		return errfmt(err, errlen, -ENAMETOOLONG, "%s: host name too long", address);
	memcpy(host, h, len);
	host[len] = '\0';
	return 0;
}

int url_split_host_port(const char *address, const char *default_host, char *host, size_t hostlen,
                        unsigned *port, char *err, size_t errlen)
{
	const char *colon;
	int r;

	if (!address || !*address)
		return errfmt(err, errlen, -EINVAL, "empty address (write HOST:PORT, e.g. 127.0.0.1:8080)");

	if (address[0] == '[') {
		const char *close = strchr(address, ']');
		if (!close)
			return errfmt(err, errlen, -EINVAL, "%s: missing ']' after IPv6 address", address);
		if (close[1] != ':')
			return errfmt(err, errlen, -EINVAL, "%s: missing port after ']' (write [::1]:8080)",
			              address);
		if (close == address + 1)
			return errfmt(err, errlen, -EINVAL, "%s: empty IPv6 address in brackets", address);
		r = parse_port(close + 2, strlen(close + 2), port, address, err, errlen);
		if (r < 0)
			return r;
		return set_host(address + 1, (size_t)(close - address - 1), default_host, host, hostlen,
		                address, err, errlen);
	}

	colon = strchr(address, ':');
	if (!colon) {
		/* A bare number is a port on the default host; anything else lacks one. */
		r = parse_port(address, strlen(address), port, address, err, errlen);
		if (r < 0)
			return errfmt(err, errlen, -EINVAL,
			              "%s: missing port (write HOST:PORT, e.g. 127.0.0.1:8080)", address);
		return set_host("", 0, default_host, host, hostlen, address, err, errlen);
	}
	if (strchr(colon + 1, ':'))
		return errfmt(err, errlen, -EINVAL, "%s: put an IPv6 address in brackets ([::1]:8080)",
		              address);
	r = parse_port(colon + 1, strlen(colon + 1), port, address, err, errlen);
	if (r < 0)
		return r;
	return set_host(address, (size_t)(colon - address), default_host, host, hostlen, address, err,
	                errlen);
}

char *url_without_param(const char *text, const char *key)
{
	const char *q = strchr(text, '?');
	size_t klen = strlen(key), off;
	char *out = malloc(strlen(text) + 1);
	bool first = true;

	if (!out)
		return NULL;
	if (!q) {
		strcpy(out, text);
		return out;
	}
	off = (size_t)(q - text);
	memcpy(out, text, off);
	for (const char *p = q + 1; *p;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		/* key, key=..., not keyx=...: the raw text, as written. */
		bool drop = n >= klen && !strncmp(p, key, klen) && (n == klen || p[klen] == '=');
		if (!drop && n) {
			out[off++] = first ? '?' : '&';
			memcpy(out + off, p, n);
			off += n;
			first = false;
		}
		p += n + (amp ? 1 : 0);
	}
	out[off] = '\0';
	return out;
}
