/*
 * plugins/kubernetes/kyaml.c - the kubeconfig's YAML, read with libyaml's
 * event parser into the small tree of kubeconfig.h, keeping only the
 * subset a kubeconfig needs (see kubeconfig.h).
 *
 * libyaml does the grammar; this file refuses what the subset leaves out
 * (anchors, aliases, tags, block scalars, non-empty flow collections,
 * multi-line scalars, complex and duplicate keys, directives, more than one
 * document), bounds input, depth and node count, and words libyaml's
 * errors the way a user can act on, each naming its line.
 *
 * No dependency on the plugin host: the unit test compiles this file in.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "plugins/kubernetes/kubeconfig.h"

struct kbuild {
	yaml_parser_t parser;
	const char *text;
	size_t len;
	size_t nodes;
	int last_quoted_line;        /* the line a quoted scalar ended on, 0: none */
	char *err;
	size_t errlen;
};

static int berr(struct kbuild *B, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int berr(struct kbuild *B, int line, const char *fmt, ...)
{
	va_list ap;
	int off;

	off = snprintf(B->err, B->errlen, "line %d: ", line);
	if (off < 0 || (size_t)off >= B->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(B->err + off, B->errlen - (size_t)off, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ------------------------------------------------------------- tree */

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

static struct kyaml_node *node_new(struct kbuild *B, enum kyaml_type type, int line)
{
	struct kyaml_node *n;

	if (B->nodes >= KYAML_MAX_NODES) {
		berr(B, line, "more than %d nodes", KYAML_MAX_NODES);
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		berr(B, line, "out of memory");
		return NULL;
	}
	B->nodes++;
	n->type = type;
	n->line = line;
	return n;
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

/* ------------------------------------------------------------- libyaml's errors */

/* The text of line (1-based) up to its end, and its indentation. */
static const char *line_text(const struct kbuild *B, size_t index, int *indent)
{
	const char *p = B->text + (index <= B->len ? index : B->len);

	while (p > B->text && p[-1] != '\n')
		p--;
	for (*indent = 0; p[*indent] == ' '; (*indent)++)
		;
	return p + *indent;
}

/* "did not find expected key" and friends: say what the line holds instead. */
static int err_unexpected(struct kbuild *B, int line)
{
	const yaml_mark_t *pm = &B->parser.problem_mark, *cm = &B->parser.context_mark;
	int indent;
	const char *t = line_text(B, pm->index, &indent);

	if (B->last_quoted_line == line && (size_t)indent < pm->column)
		return berr(B, line, "unexpected text after a quoted string");
	if (t[0] == '-' && (t[1] == ' ' || t[1] == '\0' || t[1] == '\r' || t[1] == '\n'))
		return berr(B, line, "expected 'key: value'");
	if (B->parser.context && pm->column != cm->column)
		return berr(B, line, "unexpected indentation");
	return berr(B, line, strstr(B->parser.problem, "key") ? "expected 'key: value'" : "unexpected content");
}

/* libyaml refused the text: one line that says what and where. */
static int parser_error(struct kbuild *B)
{
	yaml_parser_t *P = &B->parser;
	const char *problem = P->problem ? P->problem : "cannot parse";
	const char *context = P->context ? P->context : "";
	int line = (int)P->problem_mark.line + 1;
	char c;

	if (P->error == YAML_MEMORY_ERROR)
		return berr(B, line, "out of memory");
	if (strstr(problem, "tab character"))
		return berr(B, line, "tab in indentation");
	if (strstr(context, "quoted scalar") && strstr(problem, "end of stream")) {
		c = P->context_mark.index < B->len ? B->text[P->context_mark.index] : '"';
		return berr(B, (int)P->context_mark.line + 1,
		            "unterminated %s-quoted string (multi-line strings are not supported)",
		            c == '\'' ? "single" : "double");
	}
	if (strstr(problem, "unknown escape")) {
		c = P->problem_mark.index + 1 < B->len ? B->text[P->problem_mark.index + 1] : '?';
		return berr(B, line, "unsupported escape \\%c in double-quoted string", c > 0x20 && c < 0x7f ? c : '?');
	}
	if (strstr(problem, "mapping values are not allowed"))
		return berr(B, line, "':' in a plain value (quote the value)");
	if (strstr(problem, "block sequence entries are not allowed"))
		return berr(B, line, "a sequence cannot start on the line of its key");
	if (strstr(problem, "did not find expected"))
		return err_unexpected(B, line);
	if (strstr(problem, "cannot start any token")) {
		c = P->problem_mark.index < B->len ? B->text[P->problem_mark.index] : '?';
		return berr(B, line, "a plain value cannot start with '%c' (quote it)", c > 0x20 && c < 0x7f ? c : '?');
	}
	if (strstr(problem, "control characters"))
		return berr(B, line, "control character in the document");
	if (strstr(problem, "UTF-8") || strstr(problem, "octet"))
		return berr(B, line, "not valid UTF-8");
	return berr(B, line, "%s%s%s", problem, context[0] ? " " : "", context);
}

/* ------------------------------------------------------------- events into the tree */

static int next_event(struct kbuild *B, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&B->parser, ev))
		return parser_error(B);
	return 0;
}

static int ev_line(const yaml_event_t *ev)
{
	return (int)ev->start_mark.line + 1;
}

/* What the subset refuses on any node: anchors and tags. */
static int check_props(struct kbuild *B, const yaml_event_t *ev, const yaml_char_t *anchor,
                       const yaml_char_t *tag)
{
	if (anchor)
		return berr(B, ev_line(ev), "anchors (&) are not supported");
	if (tag)
		return berr(B, ev_line(ev), "tags (!) are not supported");
	return 0;
}

/* A scalar event: one-line plain or quoted text; ~, null and nothing are null. */
static struct kyaml_node *scalar_node(struct kbuild *B, const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length, i;
	yaml_scalar_style_t style = ev->data.scalar.style;
	int plain = style == YAML_PLAIN_SCALAR_STYLE, line = ev_line(ev), indent;
	struct kyaml_node *n;

	if (check_props(B, ev, ev->data.scalar.anchor, ev->data.scalar.tag) < 0)
		return NULL;
	if (style == YAML_LITERAL_SCALAR_STYLE || style == YAML_FOLDED_SCALAR_STYLE) {
		berr(B, line, "block scalars (%c) are not supported", style == YAML_LITERAL_SCALAR_STYLE ? '|' : '>');
		return NULL;
	}
	if (ev->end_mark.line != ev->start_mark.line) {
		if (!plain) {
			berr(B, line, "unterminated %s-quoted string (multi-line strings are not supported)",
			     style == YAML_SINGLE_QUOTED_SCALAR_STYLE ? "single" : "double");
			return NULL;
		}
		line_text(B, ev->end_mark.index, &indent);
		berr(B, (int)ev->end_mark.line + 1, "unexpected %s (multi-line values are not supported)",
		     indent ? "indentation" : "content");
		return NULL;
	}
	for (i = 0; plain && i < len; i++) {
		if ((unsigned char)v[i] < 0x20) {
			berr(B, line, "control character in a value");
			return NULL;
		}
	}
	if (!plain)
		B->last_quoted_line = (int)ev->end_mark.line + 1;
	if (plain && (len == 0 || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	              !strcmp(v, "NULL")))
		return node_new(B, KYAML_NULL, line);
	n = node_new(B, KYAML_SCALAR, line);
	if (!n)
		return NULL;
	n->scalar = strndup(v, len);
	n->quoted = !plain;
	if (!n->scalar || strlen(n->scalar) != len) {
		berr(B, line, n->scalar ? "NUL byte in a value" : "out of memory");
		kyaml_free(n);
		return NULL;
	}
	return n;
}

static struct kyaml_node *build(struct kbuild *B, yaml_event_t *ev, int depth);

/* The items of a block sequence up to its end. */
static int seq_items(struct kbuild *B, struct kyaml_node *seq, int depth)
{
	yaml_event_t ev;

	for (;;) {
		struct kyaml_node *child;

		if (next_event(B, &ev) < 0)
			return -EINVAL;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		child = build(B, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (!child)
			return -EINVAL;
		if (node_add(seq, NULL, child) < 0) {
			kyaml_free(child);
			return berr(B, seq->line, "out of memory");
		}
	}
}

/* One "key: value" of a block mapping, from the key's event on.  0, 1 at the end, <0. */
static int map_entry(struct kbuild *B, struct kyaml_node *map, int depth)
{
	struct kyaml_node *value;
	yaml_event_t ev;
	char *key;
	int line;

	if (next_event(B, &ev) < 0)
		return -EINVAL;
	if (ev.type == YAML_MAPPING_END_EVENT) {
		yaml_event_delete(&ev);
		return 1;
	}
	line = ev_line(&ev);
	if (ev.type != YAML_SCALAR_EVENT) {
		yaml_event_delete(&ev);
		return berr(B, line, "complex keys (?) are not supported");
	}
	value = scalar_node(B, &ev);
	yaml_event_delete(&ev);
	if (!value)
		return -EINVAL;
	key = value->type == KYAML_SCALAR ? value->scalar : NULL;
	value->scalar = NULL;
	kyaml_free(value);
	if (!key || !*key) {
		free(key);
		return berr(B, line, "empty key");
	}
	if (kyaml_get(map, key)) {
		berr(B, line, "duplicate key '%s'", key);
		free(key);
		return -EINVAL;
	}
	if (next_event(B, &ev) < 0) {
		free(key);
		return -EINVAL;
	}
	value = build(B, &ev, depth + 1);
	yaml_event_delete(&ev);
	if (!value || node_add(map, key, value) < 0) {
		free(key);
		if (value) {
			kyaml_free(value);
			return berr(B, line, "out of memory");
		}
		return -EINVAL;
	}
	return 0;
}

/* A collection's start event: {} and [] are fine, other flow collections are not. */
static struct kyaml_node *collection(struct kbuild *B, yaml_event_t *ev, int depth)
{
	int is_map = ev->type == YAML_MAPPING_START_EVENT, line = ev_line(ev), r;
	int flow = is_map ? ev->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE :
	                    ev->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
	struct kyaml_node *n;
	yaml_event_t end;

	if (check_props(B, ev, is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor,
	                is_map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag) < 0)
		return NULL;
	if (depth > KYAML_MAX_DEPTH) {
		berr(B, line, "nested deeper than %d levels", KYAML_MAX_DEPTH);
		return NULL;
	}
	n = node_new(B, is_map ? KYAML_MAP : KYAML_SEQ, line);
	if (!n)
		return NULL;
	if (flow) {
		if (next_event(B, &end) < 0) {
			kyaml_free(n);
			return NULL;
		}
		r = end.type == (is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT);
		yaml_event_delete(&end);
		if (!r) {
			berr(B, line, "flow collections are not supported (only {} and [])");
			kyaml_free(n);
			return NULL;
		}
		return n;
	}
	if (is_map) {
		while ((r = map_entry(B, n, depth)) == 0)
			;
	} else {
		r = seq_items(B, n, depth);
	}
	if (r < 0) {
		kyaml_free(n);
		return NULL;
	}
	return n;
}

static struct kyaml_node *build(struct kbuild *B, yaml_event_t *ev, int depth)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return scalar_node(B, ev);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		return collection(B, ev, depth);
	case YAML_ALIAS_EVENT:
		berr(B, ev_line(ev), "aliases (*) are not supported");
		return NULL;
	default:
		berr(B, ev_line(ev), "unexpected content");
		return NULL;
	}
}

/* ------------------------------------------------------------- one document */

/* What libyaml would accept but the subset refuses before parsing: NUL, tabs, '?' keys, directives. */
static int prescan(struct kbuild *B)
{
	const char *p = B->text, *end = B->text + B->len;
	int line = 1;

	if (memchr(B->text, '\0', B->len))
		return berr(B, 0, "NUL byte in the document");
	for (; p < end; p++, line++) {
		const char *e = memchr(p, '\n', (size_t)(end - p)), *t = p;

		if (!e)
			e = end;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;            /* blanks at the end do not count */
		while (t < e && *t == ' ')
			t++;
		if (t < e && *t == '\t')
			return berr(B, line, "tab in indentation");
		if (t < e && *t == '?' && (t + 1 == e || t[1] == ' '))
			return berr(B, line, "complex keys (?) are not supported");
		if (p < e && *p == '%')
			return berr(B, line, "directives (%%) are not supported");
		p = memchr(p, '\n', (size_t)(end - p));
		if (!p)
			break;
	}
	return 0;
}

/* The document's root (NULL when empty); the stream must end after it. */
static int parse_document(struct kbuild *B, struct kyaml_node **root)
{
	yaml_event_t ev;
	int r = 0;

	if (next_event(B, &ev) < 0)             /* STREAM-START */
		return -EINVAL;
	yaml_event_delete(&ev);
	if (next_event(B, &ev) < 0)
		return -EINVAL;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return 0;
	}
	yaml_event_delete(&ev);                 /* DOCUMENT-START */
	if (next_event(B, &ev) < 0)
		return -EINVAL;
	*root = build(B, &ev, 1);
	yaml_event_delete(&ev);
	if (!*root)
		return -EINVAL;
	if (next_event(B, &ev) < 0)             /* DOCUMENT-END */
		return -EINVAL;
	yaml_event_delete(&ev);
	if (next_event(B, &ev) < 0)
		return -EINVAL;
	if (ev.type != YAML_STREAM_END_EVENT)
		r = berr(B, ev_line(&ev), "more than one document");
	yaml_event_delete(&ev);
	return r;
}

int kyaml_parse(const char *text, size_t len, struct kyaml_node **root, char *err, size_t errlen)
{
	struct kbuild B = { .text = text, .len = len, .err = err, .errlen = errlen };
	int r;

	*root = NULL;
	if (errlen)
		err[0] = '\0';
	if (len > KYAML_MAX_INPUT)
		return berr(&B, 0, "document larger than %u bytes", KYAML_MAX_INPUT);
	r = prescan(&B);
	if (r < 0)
		return r;
	if (!yaml_parser_initialize(&B.parser))
		return berr(&B, 0, "out of memory");
	yaml_parser_set_input_string(&B.parser, (const unsigned char *)text, len);
	r = parse_document(&B, root);
	yaml_parser_delete(&B.parser);
	if (r < 0) {
		kyaml_free(*root);
		*root = NULL;
		return r;
	}
	if (*root && (*root)->type == KYAML_NULL) {
		kyaml_free(*root);
		*root = NULL;
	}
	return 0;
}
