/*
 * plugins/kubernetes/kubeconfig.c - a strict YAML-subset reader (see
 * kubeconfig.h for what it accepts) and kubeconfig field extraction.
 *
 * The reader works on lines.  Each line records its indentation column and
 * a pointer to its content; a sequence item "- x" is handled by moving the
 * line's start past the dash, so "- key: v" becomes a mapping that starts at
 * the column of "key" and the following "  key2: w" lines continue it.
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

#include "plugins/kubernetes/kubeconfig.h"

#define KUBE_FILE_MAX (1u << 20)     /* certificates, keys, token files */

/* ------------------------------------------------------------- reader */

struct kline {
	int no;            /* 1-based line number */
	int indent;        /* column of text */
	char *text;        /* content (NUL-terminated, trailing blanks and \r cut) */
};

struct kparser {
	struct kline *lines;
	size_t n, i;
	size_t nodes;
	char *err;
	size_t errlen;
};

static int perr(struct kparser *P, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(struct kparser *P, int line, const char *fmt, ...)
{
	va_list ap;
	int off;

	off = snprintf(P->err, P->errlen, "line %d: ", line);
	if (off < 0 || (size_t)off >= P->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(P->err + off, P->errlen - (size_t)off, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static struct kyaml_node *node_new(struct kparser *P, enum kyaml_type type, int line)
{
	struct kyaml_node *n;

	if (P->nodes >= KYAML_MAX_NODES) {
		perr(P, line, "more than %d nodes", KYAML_MAX_NODES);
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		perr(P, line, "out of memory");
		return NULL;
	}
	P->nodes++;
	n->type = type;
	n->line = line;
	return n;
}

void kyaml_free(struct kyaml_node *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n; i++) {
		if (n->keys)
			free(n->keys[i]);
		kyaml_free(n->items[i]);
	}
	free(n->keys);
	free(n->items);
	free(n->scalar);
	free(n);
}

static int node_add(struct kyaml_node *parent, char *key, struct kyaml_node *child)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 4;
		struct kyaml_node **items = realloc(parent->items, cap * sizeof(*items));

		if (!items)
			return -ENOMEM;
		parent->items = items;
		if (parent->type == KYAML_MAP) {
			char **keys = realloc(parent->keys, cap * sizeof(*keys));

			if (!keys)
				return -ENOMEM;
			parent->keys = keys;
		}
		parent->cap = cap;
	}
	if (parent->type == KYAML_MAP)
		parent->keys[parent->n] = key;
	parent->items[parent->n++] = child;
	return 0;
}

const struct kyaml_node *kyaml_get(const struct kyaml_node *map, const char *key)
{
	size_t i;

	if (!map || map->type != KYAML_MAP)
		return NULL;
	for (i = 0; i < map->n; i++)
		if (strcmp(map->keys[i], key) == 0)
			return map->items[i];
	return NULL;
}

static int is_seq_item(const char *s)
{
	return s[0] == '-' && (s[1] == ' ' || s[1] == '\0');
}

/* After a scalar: only blanks or a comment may follow. */
static int rest_is_empty(const char *s)
{
	while (*s == ' ')
		s++;
	return *s == '\0' || *s == '#';
}

static int put_utf8(char **o, unsigned long cp)
{
	char *d = *o;

	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	if (cp < 0x80) {
		*d++ = (char)cp;
	} else if (cp < 0x800) {
		*d++ = (char)(0xC0 | (cp >> 6));
		*d++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*d++ = (char)(0xE0 | (cp >> 12));
		*d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*d++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*d++ = (char)(0xF0 | (cp >> 18));
		*d++ = (char)(0x80 | ((cp >> 12) & 0x3F));
		*d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*d++ = (char)(0x80 | (cp & 0x3F));
	}
	*o = d;
	return 0;
}

static int hexval(char c)
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
 * A quoted scalar at s (s[0] is ' or ").  On success *out is the unescaped
 * value and *end points after the closing quote.
 */
static int parse_quoted(struct kparser *P, int line, const char *s, char **out, const char **end)
{
	char q = s[0];
	const char *p = s + 1;
	char *buf = malloc(strlen(s) + 1), *o;

	if (!buf)
		return perr(P, line, "out of memory");
	o = buf;
	for (;;) {
		if (*p == '\0') {
			free(buf);
			return perr(P, line, "unterminated %s-quoted string (multi-line strings are not supported)",
			            q == '"' ? "double" : "single");
		}
		if (q == '\'' && *p == '\'') {
			if (p[1] == '\'') {
				*o++ = '\'';
				p += 2;
				continue;
			}
			p++;
			break;
		}
		if (q == '"' && *p == '"') {
			p++;
			break;
		}
		if (q == '"' && *p == '\\') {
			unsigned long cp = 0;
			int k, digits = 0;

			p++;
			switch (*p) {
			case '"': *o++ = '"'; break;
			case '\\': *o++ = '\\'; break;
			case '/': *o++ = '/'; break;
			case 'n': *o++ = '\n'; break;
			case 't': *o++ = '\t'; break;
			case 'r': *o++ = '\r'; break;
			case ' ': *o++ = ' '; break;
			case 'x': digits = 2; break;
			case 'u': digits = 4; break;
			case 'U': digits = 8; break;
			default:
				free(buf);
				return perr(P, line, "unsupported escape \\%c in double-quoted string",
				            *p ? *p : '0');
			}
			for (k = 0; k < digits; k++) {
				int v = hexval(p[1 + k]);

				if (v < 0) {
					free(buf);
					return perr(P, line, "bad \\%c escape in double-quoted string", *p);
				}
				cp = cp * 16 + (unsigned long)v;
			}
			if (digits) {
				if (put_utf8(&o, cp) < 0) {
					free(buf);
					return perr(P, line, "escape \\%c names an invalid character", *p);
				}
				p += digits;
			}
			p++;
			continue;
		}
		*o++ = *p++;
	}
	*o = '\0';
	*out = buf;
	*end = p;
	return 0;
}

static int value_indicator(struct kparser *P, int line, char c)
{
	switch (c) {
	case '&': return perr(P, line, "anchors (&) are not supported");
	case '*': return perr(P, line, "aliases (*) are not supported");
	case '!': return perr(P, line, "tags (!) are not supported");
	case '|':
	case '>': return perr(P, line, "block scalars (%c) are not supported", c);
	case '{':
	case '[': return perr(P, line, "flow collections are not supported (only {} and [])");
	case '?': return perr(P, line, "complex keys (?) are not supported");
	case '%':
	case '@':
	case '`': return perr(P, line, "a plain value cannot start with '%c' (quote it)", c);
	default: return 0;
	}
}

/* The value text after "key:" or "- " on one line: a scalar, {} or []. */
static struct kyaml_node *parse_inline(struct kparser *P, int line, const char *s)
{
	struct kyaml_node *n;
	const char *end;
	char *v;
	size_t len;

	if ((s[0] == '{' && s[1] == '}') || (s[0] == '[' && s[1] == ']')) {
		if (!rest_is_empty(s + 2)) {
			perr(P, line, "unexpected text after %c%c", s[0], s[1]);
			return NULL;
		}
		return node_new(P, s[0] == '{' ? KYAML_MAP : KYAML_SEQ, line);
	}
	if (s[0] == '"' || s[0] == '\'') {
		if (parse_quoted(P, line, s, &v, &end) < 0)
			return NULL;
		if (!(*end == '\0' || (*end == ' ' && rest_is_empty(end)))) {
			free(v);
			perr(P, line, "unexpected text after a quoted string");
			return NULL;
		}
		n = node_new(P, KYAML_SCALAR, line);
		if (!n) {
			free(v);
			return NULL;
		}
		n->scalar = v;
		n->quoted = 1;
		return n;
	}
	if (value_indicator(P, line, s[0]) < 0)
		return NULL;
	if (is_seq_item(s)) {
		perr(P, line, "a sequence cannot start on the line of its key");
		return NULL;
	}
	/* Plain: up to " #" or the end; no ": " inside, no ':' at the end. */
	for (end = s; *end; end++) {
		if (*end == ' ' && end[1] == '#')
			break;
		if (*end == ':' && (end[1] == ' ' || end[1] == '\0')) {
			perr(P, line, "':' in a plain value (quote the value)");
			return NULL;
		}
		if (*end == '\t' || (unsigned char)*end < 0x20) {
			perr(P, line, "control character in a value");
			return NULL;
		}
	}
	len = (size_t)(end - s);
	while (len && s[len - 1] == ' ')
		len--;
	if ((len == 1 && s[0] == '~') || (len == 4 && (!strncmp(s, "null", 4) || !strncmp(s, "Null", 4) ||
	                                               !strncmp(s, "NULL", 4))) || len == 0)
		return node_new(P, KYAML_NULL, line);
	n = node_new(P, KYAML_SCALAR, line);
	if (!n)
		return NULL;
	n->scalar = strndup(s, len);
	if (!n->scalar) {
		kyaml_free(n);
		perr(P, line, "out of memory");
		return NULL;
	}
	return n;
}

/*
 * A mapping key at s.  Returns 1 with *key and *rest (the text after ':'
 * and blanks) set, 0 when s is not a key, <0 on error.
 */
static int parse_key(struct kparser *P, int line, const char *s, char **key, const char **rest)
{
	const char *p, *end;
	char *k;

	if (s[0] == '"' || s[0] == '\'') {
		if (parse_quoted(P, line, s, &k, &end) < 0)
			return -EINVAL;
		while (*end == ' ')
			end++;
		if (*end != ':' || (end[1] != ' ' && end[1] != '\0')) {
			free(k);
			return 0;  /* a quoted scalar, not a key */
		}
		p = end + 1;
	} else {
		for (end = s; *end; end++) {
			if (*end == ' ' && end[1] == '#')
				return 0;
			if (*end == ':' && (end[1] == ' ' || end[1] == '\0'))
				break;
		}
		if (!*end)
			return 0;
		if (end == s)
			return perr(P, line, "empty key");
		if (value_indicator(P, line, s[0]) < 0)
			return -EINVAL;
		p = end + 1;
		while (end > s && end[-1] == ' ')
			end--;
		k = strndup(s, (size_t)(end - s));
		if (!k)
			return perr(P, line, "out of memory");
	}
	while (*p == ' ')
		p++;
	*key = k;
	*rest = p;
	return 1;
}

static struct kyaml_node *parse_block(struct kparser *P, int depth);

static struct kyaml_node *parse_seq(struct kparser *P, int ind, int depth)
{
	struct kyaml_node *seq, *item;
	struct kline *L = &P->lines[P->i];

	if (depth > KYAML_MAX_DEPTH) {
		perr(P, L->no, "nested deeper than %d levels", KYAML_MAX_DEPTH);
		return NULL;
	}
	seq = node_new(P, KYAML_SEQ, L->no);
	if (!seq)
		return NULL;
	while (P->i < P->n) {
		char *t;
		int col;

		L = &P->lines[P->i];
		if (L->indent < ind)
			break;
		if (L->indent > ind) {
			perr(P, L->no, "unexpected indentation");
			goto fail;
		}
		if (!is_seq_item(L->text))
			break;
		t = L->text + 1;
		col = L->indent + 1;
		while (*t == ' ') {
			t++;
			col++;
		}
		if (rest_is_empty(t)) {
			P->i++;
			if (P->i < P->n && P->lines[P->i].indent > ind)
				item = parse_block(P, depth + 1);
			else
				item = node_new(P, KYAML_NULL, L->no);
		} else {
			L->text = t;
			L->indent = col;
			item = parse_block(P, depth + 1);
		}
		if (!item)
			goto fail;
		if (node_add(seq, NULL, item) < 0) {
			kyaml_free(item);
			perr(P, L->no, "out of memory");
			goto fail;
		}
	}
	return seq;
fail:
	kyaml_free(seq);
	return NULL;
}

static struct kyaml_node *parse_map(struct kparser *P, int ind, int depth)
{
	struct kyaml_node *map, *val;
	struct kline *L = &P->lines[P->i];

	if (depth > KYAML_MAX_DEPTH) {
		perr(P, L->no, "nested deeper than %d levels", KYAML_MAX_DEPTH);
		return NULL;
	}
	map = node_new(P, KYAML_MAP, L->no);
	if (!map)
		return NULL;
	while (P->i < P->n) {
		const char *rest;
		char *key;
		int r, no;

		L = &P->lines[P->i];
		if (L->indent < ind)
			break;
		if (L->indent > ind) {
			perr(P, L->no, "unexpected indentation (multi-line values are not supported)");
			goto fail;
		}
		no = L->no;
		r = parse_key(P, no, L->text, &key, &rest);
		if (r < 0)
			goto fail;
		if (r == 0) {
			perr(P, no, "expected 'key: value'");
			goto fail;
		}
		if (kyaml_get(map, key)) {
			perr(P, no, "duplicate key '%s'", key);
			free(key);
			goto fail;
		}
		if (!rest_is_empty(rest)) {
			val = parse_inline(P, no, rest);
			P->i++;
		} else {
			P->i++;
			if (P->i < P->n && P->lines[P->i].indent > ind)
				val = parse_block(P, depth + 1);
			else if (P->i < P->n && P->lines[P->i].indent == ind && is_seq_item(P->lines[P->i].text))
				val = parse_seq(P, ind, depth + 1);
			else
				val = node_new(P, KYAML_NULL, no);
		}
		if (!val) {
			free(key);
			goto fail;
		}
		if (node_add(map, key, val) < 0) {
			free(key);
			kyaml_free(val);
			perr(P, no, "out of memory");
			goto fail;
		}
	}
	return map;
fail:
	kyaml_free(map);
	return NULL;
}

/* The node that starts at the current line, at that line's indentation. */
static struct kyaml_node *parse_block(struct kparser *P, int depth)
{
	struct kline *L = &P->lines[P->i];
	struct kyaml_node *n;
	const char *rest;
	char *key;
	int r;

	if (depth > KYAML_MAX_DEPTH) {
		perr(P, L->no, "nested deeper than %d levels", KYAML_MAX_DEPTH);
		return NULL;
	}
	if (is_seq_item(L->text))
		return parse_seq(P, L->indent, depth);
	r = parse_key(P, L->no, L->text, &key, &rest);
	if (r < 0)
		return NULL;
	if (r > 0) {
		free(key);
		return parse_map(P, L->indent, depth);
	}
	n = parse_inline(P, L->no, L->text);
	if (n)
		P->i++;
	return n;
}

int kyaml_parse(const char *text, size_t len, struct kyaml_node **root, char *err, size_t errlen)
{
	struct kparser P = { .err = err, .errlen = errlen };
	char *buf, *p, *end;
	size_t cap = 0;
	int no = 0, doc_started = 0, r = 0;

	*root = NULL;
	if (errlen)
		err[0] = '\0';
	if (len > KYAML_MAX_INPUT)
		return perr(&P, 0, "document larger than %u bytes", KYAML_MAX_INPUT);
	if (memchr(text, '\0', len))
		return perr(&P, 0, "NUL byte in the document");
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, text, len);
	buf[len] = '\0';
	p = buf;
	if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
		p += 3;
	for (; *p; p = end) {
		char *nl = strchr(p, '\n'), *t;
		int indent = 0;
		size_t l;

		end = nl ? nl + 1 : p + strlen(p);
		if (nl)
			*nl = '\0';
		no++;
		l = strlen(p);
		while (l && (p[l - 1] == ' ' || p[l - 1] == '\r' || p[l - 1] == '\t'))
			p[--l] = '\0';
		for (t = p; *t == ' '; t++)
			indent++;
		if (*t == '\t') {
			r = perr(&P, no, "tab in indentation");
			goto out;
		}
		if (*t == '\0' || *t == '#')
			continue;
		if (indent == 0 && (!strcmp(t, "---") || !strncmp(t, "--- ", 4))) {
			if (doc_started || P.n) {
				r = perr(&P, no, "more than one document");
				goto out;
			}
			doc_started = 1;
			if (!rest_is_empty(t + 3)) {
				r = perr(&P, no, "content after '---' is not supported");
				goto out;
			}
			continue;
		}
		if (indent == 0 && (!strcmp(t, "...") || !strncmp(t, "... ", 4)))
			break;
		if (t[0] == '%' && indent == 0) {
			r = perr(&P, no, "directives (%%) are not supported");
			goto out;
		}
		if (P.n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct kline *nl2 = realloc(P.lines, ncap * sizeof(*nl2));

			if (!nl2) {
				r = -ENOMEM;
				goto out;
			}
			P.lines = nl2;
			cap = ncap;
		}
		P.lines[P.n].no = no;
		P.lines[P.n].indent = indent;
		P.lines[P.n].text = t;
		P.n++;
	}
	if (P.n == 0)
		goto out;
	*root = parse_block(&P, 0);
	if (!*root) {
		r = -EINVAL;
		goto out;
	}
	if (P.i < P.n) {
		r = perr(&P, P.lines[P.i].no, "unexpected %s", P.lines[P.i].indent ? "indentation" : "content");
		kyaml_free(*root);
		*root = NULL;
	}
out:
	free(P.lines);
	free(buf);
	return r;
}

/* ------------------------------------------------------------- helpers */

int kube_base64_decode(const char *in, size_t inlen, char **out, size_t *outlen)
{
	unsigned char *buf = malloc(inlen / 4 * 3 + 4);
	unsigned acc = 0;
	int bits = 0, pad = 0;
	size_t i, o = 0, n = 0;

	if (!buf)
		return -ENOMEM;
	for (i = 0; i < inlen; i++) {
		char c = in[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			n++;
			continue;
		}
		if (pad)
			goto bad;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else
			goto bad;
		n++;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (n % 4 != 0 || pad > 2 || o == 0)
		goto bad;
	buf[o] = '\0';
	*out = (char *)buf;
	*outlen = o;
	return 0;
bad:
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
	if (kube_base64_decode(s, strlen(s), out, outlen) < 0)
		return kerr(K, kyaml_get(map, key), "%s.%s: not valid base64", where, key);
	return 1;
}

static int parse_server(struct kctx *K, const struct kyaml_node *at, const char *url, struct kubeconfig *kc)
{
	const char *p, *h, *he, *ps;
	unsigned long port;
	size_t i, plen;

	for (i = 0; url[i]; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
			return kerr(K, at, "server URL contains a blank or control character");
	if (!strncmp(url, "https://", 8)) {
		kc->https = 1;
		p = url + 8;
		kc->port = 443;
	} else if (!strncmp(url, "http://", 7)) {
		kc->https = 0;
		p = url + 7;
		kc->port = 80;
	} else {
		return kerr(K, at, "server '%s': expected https://HOST[:PORT]", url);
	}
	ps = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(ps - p)))
		return kerr(K, at, "server '%s': credentials in the URL are not supported", url);
	if (*p == '[') {
		h = p + 1;
		he = memchr(h, ']', (size_t)(ps - h));
		if (!he)
			return kerr(K, at, "server '%s': unterminated [IPv6] address", url);
		p = he + 1;
	} else {
		h = p;
		he = h + strcspn(h, ":/?#");
		p = he;
	}
	if (he == h || he - h > 253)
		return kerr(K, at, "server '%s': bad host", url);
	if (*p == ':') {
		char *e;

		errno = 0;
		port = strtoul(p + 1, &e, 10);
		if (e == p + 1 || e != ps || port < 1 || port > 65535 || errno)
			return kerr(K, at, "server '%s': bad port", url);
		kc->port = (unsigned)port;
	} else if (p != ps) {
		return kerr(K, at, "server '%s': bad host", url);
	}
	if (*ps == '?' || *ps == '#')
		return kerr(K, at, "server '%s': query or fragment not supported", url);
	plen = strlen(ps);
	while (plen && ps[plen - 1] == '/')
		plen--;
	kc->host = strndup(h, (size_t)(he - h));
	kc->path_prefix = strndup(ps, plen);
	if (!kc->host || !kc->path_prefix)
		return kerr(K, NULL, "out of memory");
	return kdup(K, &kc->server, url);
}

static int kubeconfig_extract(struct kctx *K, const struct kyaml_node *root, struct kubeconfig *kc)
{
	const struct kyaml_node *ctx = NULL, *cluster, *user = NULL, *v;
	const char *cur, *cname, *uname, *s, *s2;
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
	if (!user)
		return 0;

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
