/* peer_policy.c - what a peer broker may reach and open here: patterns,
 * resolved Unix paths, this broker's own directories, the port rules. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <event2/util.h>

#include "broker/config.h"
#include "broker/errfmt.h"
#include "broker/mapping.h"
#include "broker/peer_policy.h"
#include "broker/platform.h"
#include "broker/url.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

struct pattern {
	char *text;           /* as the user wrote it */
	bool any;             /* "*" */
	struct url u;
	char *address;        /* what the target's address is matched against (Unix: resolved) */
};

struct pattern_set {
	struct pattern *v;
	size_t n;
};

struct peer_policy {
	char name[128];                /* our broker id, for refusal texts */
	struct pattern_set connect, listen;
	char *runtime_dir, *state_dir;
	bool bind_as_given, allow_privileged;
	struct peer_port_range ranges[PEER_POLICY_MAX_RANGES];
	size_t nranges;
};

/* ------------------------------------------------------------ pure helpers */

bool peer_policy_glob(const char *p, const char *t)
{
	const char *star = NULL, *resume = NULL;

	while (*t) {
		if (*p == '*') {
			star = p++;
			resume = t;
		} else if (*p && *p == *t) {
			p++;
			t++;
		} else if (star) {
			p = star + 1;
			t = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

int peer_policy_pattern_check(const char *pattern, char *err, size_t errlen)
{
	struct url u;
	char why[512];
	int rc;

	if (!pattern || !*pattern)
		return errfmt(err, errlen, -EINVAL, "empty pattern (write \"*\" or an endpoint URL)");
	if (!strcmp(pattern, "*"))
		return 0;
	rc = url_parse(pattern, &u, why, sizeof(why));
	if (rc < 0)
		return errfmt(err, errlen, -EINVAL, "pattern %s: %s", pattern, why);
	if (u.is_peer)
		rc = errfmt(err, errlen, -EINVAL, "pattern %s: names an endpoint here, without \"peer:\"", pattern);
	url_free(&u);
	return rc;
}

int peer_policy_parse_ports(const char *text, struct peer_port_range *out, size_t max, size_t *n, char *err,
                            size_t errlen)
{
	const char *p = text;

	*n = 0;
	if (!text)
		return 0;
	while (*p) {
		unsigned long lo, hi;
		char *end;

		while (*p == ' ')
			p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		lo = strtoul(p, &end, 10);
		hi = lo;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			hi = strtoul(p, &end, 10);
			p = end;
		}
		while (*p == ' ')
			p++;
		if (lo < 1 || hi > 65535 || lo > hi)
			return errfmt(err, errlen, -EINVAL, "'%s': %lu-%lu is not a port range (1-65535, low-high)",
			              text, lo, hi);
		if (*n == max)
			return errfmt(err, errlen, -E2BIG, "'%s': at most %zu ranges", text, max);
		out[*n].lo = (uint16_t)lo;
		out[*n].hi = (uint16_t)hi;
		(*n)++;
		if (*p == ',')
			p++;
		else if (*p)
			goto bad;
	}
	return 0;
bad:
	return errfmt(err, errlen, -EINVAL, "'%s': write ports and ranges separated by commas, e.g. 8000-8999,3000",
	              text);
}

bool peer_policy_is_loopback(const char *host)
{
	unsigned char a[16];

	if (!strcasecmp(host, "localhost"))
		return true;
	if (evutil_inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	if (evutil_inet_pton(AF_INET6, host, a) == 1) {
		static const unsigned char v6lo[16] = { [15] = 1 };
		static const unsigned char v4mapped[12] = { [10] = 0xff, [11] = 0xff };
		return !memcmp(a, v6lo, 16) || (!memcmp(a, v4mapped, 12) && a[12] == 127);
	}
	return false;
}

/* ------------------------------------------------------------ addresses */

static bool is_unix(const struct url *u)
{
	return !strcmp(u->pub.scheme, "unix");
}

static bool is_npipe(const struct url *u)
{
	return !strcmp(u->pub.scheme, "npipe");
}

/* A named pipe's name compares without case and with either slash. */
static void pipe_fold(const char *in, char *out, size_t len)
{
	size_t i = 0;

	for (; in[i] && i + 1 < len; i++)
		out[i] = in[i] == '\\' ? '/' : (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

/*
 * The address a pattern or target is compared in: a Unix path resolved
 * (an abstract name as it is), a pipe name folded, anything else as given.
 * A pattern's Unix path is resolved up to its first '*' (the directory
 * before it), so "/var/run/x*" still matches what resolves to /run/x...
 */
static int canonical_address(const struct url *u, bool pattern, char *out, size_t len)
{
	const char *a = u->pub.address;

	if (is_npipe(u)) {
		pipe_fold(a, out, len);
		return 0;
	}
	if (!is_unix(u) || a[0] == '@') {
		if (strlen(a) >= len)
			return -ENAMETOOLONG;
		memcpy(out, a, strlen(a) + 1);
		return 0;
	}
	const char *star = pattern ? strchr(a, '*') : NULL;
	if (!star)
		return platform_path_resolve(a, out, len);
	/* The directory before the first '*' is resolved; the rest stays a pattern. */
	const char *cut = star;
	while (cut > a && cut[-1] != '/')
		cut--;
	if (cut == a)
		goto as_is;
	char dir[PATH_MAX], res[PATH_MAX];
	size_t n = (size_t)(cut - a);
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, a, n);
	dir[n] = '\0';
	if (platform_path_resolve(dir, res, sizeof(res)) < 0)
		goto as_is;
	if ((size_t)snprintf(out, len, "%s%s%s", res, res[strlen(res) - 1] == '/' ? "" : "/", cut) >= len)
		return -ENAMETOOLONG;
	return 0;
as_is:
	if (strlen(a) >= len)
		return -ENAMETOOLONG;
	memcpy(out, a, strlen(a) + 1);
	return 0;
}

/* Is path (resolved) dir itself or inside it? */
static bool path_inside(const char *path, const char *dir)
{
	char res[PATH_MAX];
	size_t n;

	if (!dir || !*dir || platform_path_resolve(dir, res, sizeof(res)) < 0)
		return false;
	n = strlen(res);
	while (n > 1 && res[n - 1] == '/')
		n--;
	return !strncmp(path, res, n) && (path[n] == '\0' || path[n] == '/' || n == 1);
}

/* This broker's control socket, event feed, database and secret are never the peer's. */
static int own_endpoint(const struct peer_policy *p, const struct url *u, const char *addr, char *why,
                        size_t whylen)
{
	if (is_unix(u) && addr[0] != '@') {
		if (path_inside(addr, p->runtime_dir))
			return errfmt(why, whylen, -EPERM, "%s is inside the runtime directory %s of broker %s, which a "
			              "peer may never reach", addr, p->runtime_dir, p->name);
		if (path_inside(addr, p->state_dir))
			return errfmt(why, whylen, -EPERM, "%s is inside the state directory %s of broker %s, which a "
			              "peer may never reach", addr, p->state_dir, p->name);
	}
	if (is_npipe(u) && p->runtime_dir) {
		/* Windows: the runtime "dir" is the prefix of our pipes, PREFIX-ctl and PREFIX-events. */
		static const char *const ours[] = { "-ctl", "-events" };
		const char *base = strrchr(addr, '/');
		char mine[256], folded[256];
		base = base ? base + 1 : addr;
		for (size_t i = 0; i < 2; i++) {
			snprintf(mine, sizeof(mine), "%s%s", p->runtime_dir, ours[i]);
			pipe_fold(mine, folded, sizeof(folded));
			if (!strcmp(base, folded))
				return errfmt(why, whylen, -EPERM, "%s is the %s pipe of broker %s, which a peer may never "
				              "reach", u->pub.address, i ? "event feed" : "control", p->name);
		}
	}
	return 0;
}

/* ------------------------------------------------------------ patterns */

static void pattern_set_free(struct pattern_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].text);
		free(s->v[i].address);
		url_free(&s->v[i].u);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int pattern_set_build(struct pattern_set *s, char *const *texts, size_t n, const char *what, char *err,
                             size_t errlen)
{
	char why[512], addr[PATH_MAX];
	int rc;

	s->v = calloc(n ? n : 1, sizeof(*s->v));
	if (!s->v)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct pattern *pt = &s->v[s->n];
		if ((rc = peer_policy_pattern_check(texts[i], why, sizeof(why))) < 0)
			return errfmt(err, errlen, rc, "%s: %s", what, why);
		if (!(pt->text = strdup(texts[i])))
			return errfmt(err, errlen, -ENOMEM, "out of memory");
		s->n++;
		if (!strcmp(texts[i], "*")) {
			pt->any = true;
			continue;
		}
		if ((rc = url_parse(texts[i], &pt->u, why, sizeof(why))) < 0)
			return errfmt(err, errlen, rc, "%s: %s", what, why);
		if (canonical_address(&pt->u, true, addr, sizeof(addr)) < 0)
			snprintf(addr, sizeof(addr), "%s", pt->u.pub.address);
		if (!(pt->address = strdup(addr)))
			return errfmt(err, errlen, -ENOMEM, "out of memory");
	}
	return 0;
}

static bool pattern_match(const struct pattern *pt, const struct url *t, const char *addr)
{
	if (pt->any)
		return true;
	if (strcmp(pt->u.pub.scheme, t->pub.scheme))
		return false;
	/* An abstract socket is another namespace: only a pattern that says '@' reaches it. */
	if (is_unix(t) && addr[0] == '@' && pt->address[0] != '@')
		return false;
	if (!peer_policy_glob(pt->address, addr))
		return false;
	if (pt->u.pub.nparams != t->pub.nparams)
		return false;
	for (size_t i = 0; i < t->pub.nparams; i++) {
		const char *want = url_param(&pt->u.pub, t->pub.params[i].key);
		if (!want || !peer_policy_glob(want, t->pub.params[i].value))
			return false;
	}
	return true;
}

static bool set_allows(const struct pattern_set *s, const struct url *t, const char *addr)
{
	for (size_t i = 0; i < s->n; i++)
		if (pattern_match(&s->v[i], t, addr))
			return true;
	return false;
}

/* ------------------------------------------------------------ life */

int peer_policy_new(const struct broker_config *cfg, struct peer_policy **out, char *err, size_t errlen)
{
	struct peer_policy *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	snprintf(p->name, sizeof(p->name), "here");
	p->bind_as_given = cfg->mapping_bind == MAPPING_BIND_AS_GIVEN;
	p->allow_privileged = cfg->mapping_allow_privileged;
	if ((cfg->runtime_dir && !(p->runtime_dir = strdup(cfg->runtime_dir))) ||
	    (cfg->state_dir && !(p->state_dir = strdup(cfg->state_dir)))) {
		rc = errfmt(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = peer_policy_parse_ports(cfg->mapping_ports, p->ranges, PEER_POLICY_MAX_RANGES, &p->nranges, err,
	                                  errlen)) < 0 ||
	    (rc = pattern_set_build(&p->connect, cfg->peer_allow_connect, cfg->n_peer_allow_connect,
	                            "--peer-allow-connect", err, errlen)) < 0 ||
	    (rc = pattern_set_build(&p->listen, cfg->peer_allow_listen, cfg->n_peer_allow_listen,
	                            "--peer-allow-listen", err, errlen)) < 0)
		goto fail;
	*out = p;
	return 0;
fail:
	peer_policy_free(p);
	return rc;
}

void peer_policy_free(struct peer_policy *p)
{
	if (!p)
		return;
	pattern_set_free(&p->connect);
	pattern_set_free(&p->listen);
	free(p->runtime_dir);
	free(p->state_dir);
	free(p);
}

void peer_policy_set_name(struct peer_policy *p, const char *broker_id)
{
	if (p && broker_id && *broker_id)
		snprintf(p->name, sizeof(p->name), "%s", broker_id);
}

/* ------------------------------------------------------------ decisions */

/* "unix://" + the resolved path (escaped as url_parse will decode it) + the target's own query. */
static int unix_url(const char *addr, const char *target, char *out, size_t outlen)
{
	static const char keep[] = "/._-~@+,:=";
	const char *q = strchr(target, '?');
	size_t o = 0;

	o += (size_t)snprintf(out, outlen, "unix://");
	for (const char *s = addr; *s && o + 4 < outlen; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || strchr(keep, c))
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outlen - o, "%%%02X", c);
	}
	if (o + (q ? strlen(q) : 0) + 1 > outlen)
		return -ENAMETOOLONG;
	snprintf(out + o, outlen - o, "%s", q ? q : "");
	return 0;
}

int peer_policy_connect(const struct peer_policy *p, const char *target, bool trusted, char *out, size_t outlen,
                        char *why, size_t whylen)
{
	char addr[PATH_MAX], perr[512];
	struct url t;
	int rc;

	if ((rc = url_parse(target, &t, perr, sizeof(perr))) < 0)
		return errfmt(why, whylen, -EINVAL, "%s", perr);
	if (t.is_peer) {
		rc = errfmt(why, whylen, -EPERM, "%s: a peer cannot chain to a third broker", target);
		goto out;
	}
	if (!strcmp(t.pub.scheme, "exec")) {
		/* A command runs as this broker's user: only a pattern naming it exactly allows it. */
		for (size_t i = 0; i < p->connect.n; i++)
			if (!strcmp(p->connect.v[i].text, target)) {
				rc = (size_t)snprintf(out, outlen, "%s", target) < outlen ? 0 : -ENAMETOOLONG;
				goto out;
			}
		rc = errfmt(why, whylen, -EPERM,
		            "%s: refused by broker %s: exec: targets are allowed only by a --peer-allow-connect pattern "
		            "that names the whole command exactly (wildcards never match exec:)",
		            target, p->name);
		goto out;
	}
	if ((rc = canonical_address(&t, false, addr, sizeof(addr))) < 0) {
		rc = errfmt(why, whylen, rc, "%s: %s", target, strerror(-rc));
		goto out;
	}
	if ((rc = own_endpoint(p, &t, addr, perr, sizeof(perr))) < 0) {
		errfmt(why, whylen, rc, "%s: refused: %s", target, perr);
		goto out;
	}
	if (!trusted && !set_allows(&p->connect, &t, addr)) {
		rc = errfmt(why, whylen, -EPERM,
		            "%s: refused: it matches no --peer-allow-connect pattern of broker %s (to allow it, start "
		            "that broker with --peer-allow-connect '%s')",
		            target, p->name, target);
		goto out;
	}
	if (is_unix(&t) && addr[0] != '@')
		rc = unix_url(addr, target, out, outlen);
	else
		rc = (size_t)snprintf(out, outlen, "%s", target) < outlen ? 0 : -ENAMETOOLONG;
	if (rc < 0)
		errfmt(why, whylen, rc, "%s: too long", target);
out:
	url_free(&t);
	return rc;
}

int peer_policy_port(const struct peer_policy *p, unsigned port, char *why, size_t whylen)
{
	if (port != 0 && port < 1024 && !p->allow_privileged)
		return errfmt(why, whylen, -EPERM, "port %u is below 1024 (start this broker with "
		              "--mapping-allow-privileged)", port);
	if (!p->nranges)
		return 0;
	for (size_t i = 0; i < p->nranges; i++)
		if (port >= p->ranges[i].lo && port <= p->ranges[i].hi)
			return 0;
	return errfmt(why, whylen, -EPERM, "port %u is outside the --mapping-ports ranges of broker %s", port,
	              p->name);
}

int peer_policy_listen(const struct peer_policy *p, const char *url, bool trusted, char *why, size_t whylen)
{
	char addr[PATH_MAX], perr[512];
	struct url t;
	int rc;

	if ((rc = url_parse(url, &t, perr, sizeof(perr))) < 0)
		return errfmt(why, whylen, -EINVAL, "%s", perr);
	if (t.is_peer || !strcmp(t.pub.scheme, "exec")) {
		rc = errfmt(why, whylen, -EPERM, "%s: refused: a peer may only ask for a listener on an endpoint here",
		            url);
		goto out;
	}
	if ((rc = canonical_address(&t, false, addr, sizeof(addr))) < 0) {
		rc = errfmt(why, whylen, rc, "%s: %s", url, strerror(-rc));
		goto out;
	}
	if ((rc = own_endpoint(p, &t, addr, perr, sizeof(perr))) < 0) {
		errfmt(why, whylen, rc, "%s: refused: %s", url, perr);
		goto out;
	}
	if (!trusted && !set_allows(&p->listen, &t, addr)) {
		rc = errfmt(why, whylen, -EPERM,
		            "%s: refused: it matches no --peer-allow-listen pattern of broker %s (to allow it, start "
		            "that broker with --peer-allow-listen '%s')",
		            url, p->name, url);
		goto out;
	}
	if (!strcmp(t.pub.scheme, "tcp") || !strcmp(t.pub.scheme, "udp")) {
		char host[256];
		unsigned port;
		if ((rc = url_split_host_port(t.pub.address, NULL, host, sizeof(host), &port, perr, sizeof(perr))) < 0) {
			errfmt(why, whylen, rc, "%s", perr);
			goto out;
		}
		if (!p->bind_as_given && !peer_policy_is_loopback(host)) {
			rc = errfmt(why, whylen, -EPERM,
			            "%s: refused: broker %s serves its peer on loopback only (127.0.0.1, ::1); start it "
			            "with --mapping-bind as-given to allow other addresses",
			            url, p->name);
			goto out;
		}
		if ((rc = peer_policy_port(p, port, perr, sizeof(perr))) < 0) {
			errfmt(why, whylen, rc, "%s: refused: %s", url, perr);
			goto out;
		}
	}
	rc = 0;
out:
	url_free(&t);
	return rc;
}
