/* output.c - how brokerctl prints: one-line errors, tables, sizes, durations, JSON. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/brokerctl.h"
#include "broker/text_escape.h"

/* One line on stderr, the way every failure is reported (the broker's error
 * text may quote its peer: control characters are escaped). */
int die(int code, const char *fmt, ...)
{
	char msg[2048], safe[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "brokerctl: %s\n", text_escape(safe, sizeof(safe), msg));
	return code;
}

void print_line(const char *text)
{
	static char safe[16384];

	fputs(text_escape(safe, sizeof(safe), text), stdout);
	fputc('\n', stdout);
}

void human_bytes(char *buf, size_t len, uint64_t n)
{
	static const char units[] = "KMGTPE";
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(buf, len, "%llu", (unsigned long long)n);
		return;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f%ci", v, units[u]);
}

void uptime_text(char *buf, size_t len, int64_t s)
{
	if (s >= 86400)
		snprintf(buf, len, "%lldd %lldh %lldm", (long long)(s / 86400), (long long)(s % 86400 / 3600),
		         (long long)(s % 3600 / 60));
	else if (s >= 3600)
		snprintf(buf, len, "%lldh %lldm %llds", (long long)(s / 3600), (long long)(s % 3600 / 60),
		         (long long)(s % 60));
	else if (s >= 60)
		snprintf(buf, len, "%lldm %llds", (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(buf, len, "%llds", (long long)s);
}

void join(char *buf, size_t len, char **v, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "", v[i]);
	if (!n)
		snprintf(buf, len, "-");
}

void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s) {
		puts(s);
		free(s);
	}
	json_decref(j);
}

void table_row(struct table *t, ...)
{
	va_list ap;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * (size_t)t->ncols * sizeof(*c));

		if (!c)
			return;
		t->cells = c;
		t->cap = cap;
	}
	va_start(ap, t);
	for (int i = 0; i < t->ncols; i++) {
		const char *v = va_arg(ap, const char *);
		char *cell;

		/* Names, states and ids may come from the peer: no control character reaches the terminal. */
		if (v && text_needs_escape(v)) {
			size_t n = strlen(v) * 4 + 1;
			cell = malloc(n);
			if (cell)
				text_escape(cell, n, v);
		} else {
			cell = strdup(v ? v : "");
		}
		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = cell;
	}
	va_end(ap);
	t->nrows++;
}

void table_print(struct table *t)
{
	size_t w[TABLE_MAX_COLS] = { 0 };

	for (size_t r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
			size_t l = s ? strlen(s) : 0;

			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];

			if (c == t->ncols - 1)
				printf("%s\n", s ? s : "");
			else
				printf("%-*s  ", (int)w[c], s ? s : "");
		}
	}
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
}
