/*
 * plugins/kubernetes/kubeconfig.c - the kubeconfig fields the watcher needs
 * (see kubeconfig.h), from the tree kyaml.c reads with libyaml: the current
 * context's cluster and user, the server URL (libevent's evhttp_uri_parse),
 * certificates, keys and tokens inline (base64, decoded by OpenSSL) or from
 * files (bounded).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/http.h>
#include <openssl/evp.h>

#include "plugins/kubernetes/kubeconfig.h"

#define KUBE_FILE_MAX (1u << 20)     /* certificates, keys, token files */

/* ------------------------------------------------------------- helpers */

/*
 * Strict base64 (standard alphabet, '=' padding only at the end, blanks and
 * line breaks ignored), decoded by OpenSSL.  0, -EINVAL or -ENOMEM.
 */
static int base64_decode(const char *in, size_t inlen, char **out, size_t *outlen)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *clean = malloc(inlen + 1);
	unsigned char *buf = malloc(inlen / 4 * 3 + 4);
	size_t i, n = 0, pad = 0;
	int o;

	if (!clean || !buf) {
		free(clean);
		free(buf);
		return -ENOMEM;
	}
	for (i = 0; i < inlen; i++) {
		char c = in[i];

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=')
			pad++;
		else if (pad || !c || !strchr(alphabet, c))
			goto bad;
		clean[n++] = c;
	}
	if (n == 0 || n % 4 != 0 || pad > 2)
		goto bad;
	o = EVP_DecodeBlock(buf, (const unsigned char *)clean, (int)n);
	if (o < 0 || (size_t)o <= pad)
		goto bad;
	o -= (int)pad;
	buf[o] = '\0';
	free(clean);
	*out = (char *)buf;
	*outlen = (size_t)o;
	return 0;
bad:
	free(clean);
	free(buf);
	return -EINVAL;
}

int kube_read_file(const char *path, size_t max, char **out, size_t *outlen)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		e = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		close(fd);
		return e;
	}
	if ((unsigned long long)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*outlen = got;
	return 0;
}

/* ------------------------------------------------------------- kubeconfig */

struct kctx {
	const char *basedir;
	char *err;
	size_t errlen;
};

static int kerr(struct kctx *K, const struct kyaml_node *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int kerr(struct kctx *K, const struct kyaml_node *at, const char *fmt, ...)
{
	va_list ap;
	int off = 0;

	if (at)
		off = snprintf(K->err, K->errlen, "line %d: ", at->line);
	if (off < 0 || (size_t)off >= K->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(K->err + off, K->errlen - (size_t)off, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A string field: 1 found (*out points into the tree), 0 absent/null, <0 wrong type. */
static int kstr(struct kctx *K, const struct kyaml_node *map, const char *key, const char *where,
                const char **out)
{
	const struct kyaml_node *v = kyaml_get(map, key);

	*out = NULL;
	if (!v || v->type == KYAML_NULL)
		return 0;
	if (v->type != KYAML_SCALAR)
		return kerr(K, v, "%s.%s: expected a string", where, key);
	*out = v->scalar;
	return 1;
}

/* The item of a named list (clusters, contexts, users) whose name is name. */
static int kfind(struct kctx *K, const struct kyaml_node *root, const char *list, const char *inner,
                 const char *name, const struct kyaml_node **out)
{
	const struct kyaml_node *seq = kyaml_get(root, list);
	size_t i;

	*out = NULL;
	if (!seq || seq->type == KYAML_NULL)
		return kerr(K, NULL, "no '%s' list (looking for '%s')", list, name);
	if (seq->type != KYAML_SEQ)
		return kerr(K, seq, "'%s' is not a list", list);
	for (i = 0; i < seq->n; i++) {
		const struct kyaml_node *it = seq->items[i], *v;
		const char *nm;

		if (it->type != KYAML_MAP)
			return kerr(K, it, "%s[%zu] is not a mapping", list, i);
		if (kstr(K, it, "name", list, &nm) < 0)
			return -EINVAL;
		if (!nm || strcmp(nm, name) != 0)
			continue;
		v = kyaml_get(it, inner);
		if (!v || v->type != KYAML_MAP)
			return kerr(K, v ? v : it, "%s '%s' has no '%s' mapping", list, name, inner);
		*out = v;
		return 0;
	}
	return kerr(K, seq, "%s has no entry named '%s'", list, name);
}

static int kdup(struct kctx *K, char **dst, const char *s)
{
	*dst = strdup(s);
	if (!*dst)
		return kerr(K, NULL, "out of memory");
	return 0;
}

static int kfile(struct kctx *K, const struct kyaml_node *at, const char *what, const char *name,
                 char **out, size_t *outlen)
{
	char path[PATH_MAX];
	int r;

	if (name[0] == '/' || !K->basedir)
		r = snprintf(path, sizeof(path), "%s", name);
	else
		r = snprintf(path, sizeof(path), "%s/%s", K->basedir, name);
	if (r < 0 || (size_t)r >= sizeof(path))
		return kerr(K, at, "%s: path too long", what);
	r = kube_read_file(path, KUBE_FILE_MAX, out, outlen);
	if (r < 0)
		return kerr(K, at, "%s %s: %s", what, path, r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
	return 0;
}

static int kdata(struct kctx *K, const struct kyaml_node *map, const char *key, const char *where,
                 char **out, size_t *outlen)
{
	const char *s;
	int r = kstr(K, map, key, where, &s);

	if (r <= 0)
		return r;
	if (base64_decode(s, strlen(s), out, outlen) < 0)
		return kerr(K, kyaml_get(map, key), "%s.%s: not valid base64", where, key);
	return 1;
}

/* The authority of url ("HOST:PORT" after "//") ends in ':' with no port. */
static int empty_port(const char *url)
{
	const char *a = strstr(url, "//"), *e;

	if (!a)
		return 0;
	a += 2;
	e = a + strcspn(a, "/?#");
	return e > a && e[-1] == ':';
}

/* server: https://HOST[:PORT][/PREFIX], parsed by libevent's evhttp_uri_parse. */
static int parse_server(struct kctx *K, const struct kyaml_node *at, const char *url, struct kubeconfig *kc)
{
	struct evhttp_uri *u;
	const char *scheme, *host, *path;
	size_t i, hlen, plen;
	int port, r = -EINVAL;

	for (i = 0; url[i]; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
			return kerr(K, at, "server URL contains a blank or control character");
	u = evhttp_uri_parse(url);
	if (!u)
		return kerr(K, at, "server '%s': not a URL (bad port, host or characters)", url);
	scheme = evhttp_uri_get_scheme(u);
	host = evhttp_uri_get_host(u);
	port = evhttp_uri_get_port(u);
	path = evhttp_uri_get_path(u);
	if (!scheme || (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)) {
		kerr(K, at, "server '%s': expected https://HOST[:PORT]", url);
		goto out;
	}
	kc->https = strcmp(scheme, "https") == 0;
	if (evhttp_uri_get_userinfo(u)) {
		kerr(K, at, "server '%s': credentials in the URL are not supported", url);
		goto out;
	}
	if (evhttp_uri_get_query(u) || evhttp_uri_get_fragment(u)) {
		kerr(K, at, "server '%s': query or fragment not supported", url);
		goto out;
	}
	hlen = host ? strlen(host) : 0;
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen > 253) {
		kerr(K, at, "server '%s': bad host", url);
		goto out;
	}
	if (port == 0 || port > 65535 || (port < 0 && empty_port(url))) {
		kerr(K, at, "server '%s': bad port", url);
		goto out;
	}
	kc->port = port > 0 ? (unsigned)port : kc->https ? 443 : 80;
	plen = path ? strlen(path) : 0;
	while (plen && path[plen - 1] == '/')
		plen--;
	kc->host = strndup(host, hlen);
	kc->path_prefix = strndup(path ? path : "", plen);
	if (!kc->host || !kc->path_prefix) {
		kerr(K, NULL, "out of memory");
		goto out;
	}
	r = kdup(K, &kc->server, url);
out:
	evhttp_uri_free(u);
	return r;
}

/* The cluster's server, TLS settings and CA into kc. */
static int extract_cluster(struct kctx *K, const struct kyaml_node *cluster, const char *cname,
                           struct kubeconfig *kc)
{
	const char *s;
	int r;

	r = kstr(K, cluster, "server", "cluster", &s);
	if (r < 0)
		return r;
	if (r == 0)
		return kerr(K, cluster, "cluster '%s' has no server", cname);
	if (parse_server(K, kyaml_get(cluster, "server"), s, kc) < 0)
		return -EINVAL;
	if (kstr(K, cluster, "proxy-url", "cluster", &s) < 0)
		return -EINVAL;
	if (s)
		return kerr(K, kyaml_get(cluster, "proxy-url"), "cluster.proxy-url is not supported");
	if (kstr(K, cluster, "insecure-skip-tls-verify", "cluster", &s) < 0)
		return -EINVAL;
	if (s && strcmp(s, "true") && strcmp(s, "false"))
		return kerr(K, kyaml_get(cluster, "insecure-skip-tls-verify"),
		            "cluster.insecure-skip-tls-verify: expected true or false");
	kc->insecure_skip_verify = s && !strcmp(s, "true");
	if (kstr(K, cluster, "tls-server-name", "cluster", &s) < 0)
		return -EINVAL;
	if (s && kdup(K, &kc->tls_server_name, s) < 0)
		return -ENOMEM;
	r = kdata(K, cluster, "certificate-authority-data", "cluster", &kc->ca_pem, &kc->ca_len);
	if (r < 0)
		return r;
	if (r == 0) {
		if (kstr(K, cluster, "certificate-authority", "cluster", &s) < 0)
			return -EINVAL;
		if (s && kfile(K, kyaml_get(cluster, "certificate-authority"), "certificate-authority", s,
		               &kc->ca_pem, &kc->ca_len) < 0)
			return -EINVAL;
	}
	return 0;
}

/* The user's client certificate and key, or token, into kc. */
static int extract_user(struct kctx *K, const struct kyaml_node *user, const char *uname, struct kubeconfig *kc)
{
	const char *s, *s2;
	int r;

	r = kdata(K, user, "client-certificate-data", "user", &kc->cert_pem, &kc->cert_len);
	if (r < 0)
		return r;
	if (r == 0) {
		if (kstr(K, user, "client-certificate", "user", &s) < 0)
			return -EINVAL;
		if (s && kfile(K, kyaml_get(user, "client-certificate"), "client-certificate", s, &kc->cert_pem,
		               &kc->cert_len) < 0)
			return -EINVAL;
	}
	r = kdata(K, user, "client-key-data", "user", &kc->key_pem, &kc->key_len);
	if (r < 0)
		return r;
	if (r == 0) {
		if (kstr(K, user, "client-key", "user", &s) < 0)
			return -EINVAL;
		if (s && kfile(K, kyaml_get(user, "client-key"), "client-key", s, &kc->key_pem, &kc->key_len) < 0)
			return -EINVAL;
	}
	if (!kc->cert_pem != !kc->key_pem)
		return kerr(K, user, "user '%s' has a client %s but no client %s", uname,
		            kc->cert_pem ? "certificate" : "key", kc->cert_pem ? "key" : "certificate");
	if (kstr(K, user, "token", "user", &s) < 0 || kstr(K, user, "tokenFile", "user", &s2) < 0)
		return -EINVAL;
	if (s && *s) {
		if (kdup(K, &kc->token, s) < 0)
			return -ENOMEM;
	} else if (s2) {
		size_t len;

		if (kfile(K, kyaml_get(user, "tokenFile"), "tokenFile", s2, &kc->token, &len) < 0)
			return -EINVAL;
		while (len && (kc->token[len - 1] == '\n' || kc->token[len - 1] == '\r' ||
		               kc->token[len - 1] == ' '))
			kc->token[--len] = '\0';
	}
	if (kc->token) {
		const char *t;

		for (t = kc->token; *t; t++)
			if ((unsigned char)*t <= 0x20 || *t == 0x7f)
				return kerr(K, kyaml_get(user, s ? "token" : "tokenFile"),
				            "user '%s': token contains a blank or control character", uname);
	}
	if (!kc->cert_pem && !kc->token) {
		if (kyaml_get(user, "exec") || kyaml_get(user, "auth-provider"))
			return kerr(K, user, "user '%s': exec and auth-provider credentials are not supported "
			            "(use a client certificate or a token)", uname);
		if (kyaml_get(user, "username") || kyaml_get(user, "password"))
			return kerr(K, user, "user '%s': basic auth is not supported "
			            "(use a client certificate or a token)", uname);
	}
	return 0;
}

static int kubeconfig_extract(struct kctx *K, const struct kyaml_node *root, struct kubeconfig *kc)
{
	const struct kyaml_node *ctx = NULL, *cluster, *user = NULL, *v;
	const char *cur, *cname, *uname;
	int r;

	if (!root || root->type != KYAML_MAP)
		return kerr(K, root, "not a kubeconfig (expected a mapping at the top)");
	if (kstr(K, root, "current-context", "kubeconfig", &cur) < 0)
		return -EINVAL;
	if (!cur || !*cur) {
		v = kyaml_get(root, "contexts");
		if (!v || v->type != KYAML_SEQ || v->n != 1 || v->items[0]->type != KYAML_MAP)
			return kerr(K, NULL, "no current-context and not exactly one context");
		if (kstr(K, v->items[0], "name", "contexts[0]", &cur) <= 0)
			return kerr(K, v->items[0], "contexts[0] has no name");
	}
	if (kdup(K, &kc->context, cur) < 0)
		return -ENOMEM;
	if (kfind(K, root, "contexts", "context", cur, &ctx) < 0)
		return -EINVAL;
	r = kstr(K, ctx, "cluster", "context", &cname);
	if (r < 0)
		return r;
	if (r == 0)
		return kerr(K, ctx, "context '%s' names no cluster", cur);
	if (kstr(K, ctx, "user", "context", &uname) < 0)
		return -EINVAL;
	if (kfind(K, root, "clusters", "cluster", cname, &cluster) < 0)
		return -EINVAL;
	if (uname && *uname && kfind(K, root, "users", "user", uname, &user) < 0)
		return -EINVAL;

	r = extract_cluster(K, cluster, cname, kc);
	if (r < 0)
		return r;
	return user ? extract_user(K, user, uname, kc) : 0;
}

void kubeconfig_clear(struct kubeconfig *kc)
{
	free(kc->context);
	free(kc->server);
	free(kc->host);
	free(kc->path_prefix);
	free(kc->tls_server_name);
	free(kc->ca_pem);
	free(kc->cert_pem);
	if (kc->key_pem) {
		memset(kc->key_pem, 0, kc->key_len);
		free(kc->key_pem);
	}
	if (kc->token) {
		memset(kc->token, 0, strlen(kc->token));
		free(kc->token);
	}
	memset(kc, 0, sizeof(*kc));
}

int kubeconfig_parse(const char *text, size_t len, const char *basedir, struct kubeconfig *kc,
                     char *err, size_t errlen)
{
	struct kctx K = { .basedir = basedir, .err = err, .errlen = errlen };
	struct kyaml_node *root;
	int r;

	memset(kc, 0, sizeof(*kc));
	r = kyaml_parse(text, len, &root, err, errlen);
	if (r < 0)
		return r;
	r = kubeconfig_extract(&K, root, kc);
	kyaml_free(root);
	if (r < 0)
		kubeconfig_clear(kc);
	return r;
}

int kubeconfig_load(const char *path, struct kubeconfig *kc, char *err, size_t errlen)
{
	char dir[PATH_MAX], *text, *slash;
	size_t len;
	int r;

	memset(kc, 0, sizeof(*kc));
	r = kube_read_file(path, KYAML_MAX_INPUT, &text, &len);
	if (r < 0) {
		snprintf(err, errlen, "%s", r == -EFBIG ? "larger than 4 MiB" : strerror(-r));
		return r;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	else if (slash)
		dir[1] = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	r = kubeconfig_parse(text, len, dir, kc, err, errlen);
	free(text);
	return r;
}
