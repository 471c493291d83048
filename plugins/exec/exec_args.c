/*
 * plugins/exec/exec_args.c - what the two exec backends (exec.c on POSIX,
 * exec_win32.c on Windows) share: the word splitting of exec:COMMAND ARGS...
 * and the texts both report.  Compiled into the exec plugin with either.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/exec/exec_args.h"

/*
 * Split s into words: whitespace separates, '...' is literal, "..." groups
 * with \" and \\ as the only escapes, a backslash outside quotes escapes
 * any character.  The words live in one buffer that starts with argv[0];
 * free the result with exec_argv_free.
 */
int exec_argv_split(const char *s, char ***argvp, char *err, size_t errlen)
{
	size_t len = strlen(s), n = 0;
	char **argv, *buf, *o;
	const char *p = s;

	*argvp = NULL;
	argv = calloc(len / 2 + 2, sizeof(*argv));
	buf = malloc(len + 1);
	if (!argv || !buf) {
		free(argv);
		free(buf);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o = buf;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			break;
		argv[n++] = o;
		while (*p && !(*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
			if (*p == '\'') {
				const char *q = strchr(p + 1, '\'');

				if (!q) {
					snprintf(err, errlen, "unterminated ' in command \"%s\"", s);
					goto bad;
				}
				memcpy(o, p + 1, (size_t)(q - p - 1));
				o += q - p - 1;
				p = q + 1;
			} else if (*p == '"') {
				for (p++; *p && *p != '"'; p++) {
					if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
						p++;
					*o++ = *p;
				}
				if (*p != '"') {
					snprintf(err, errlen, "unterminated \" in command \"%s\"", s);
					goto bad;
				}
				p++;
			} else if (*p == '\\') {
				if (!p[1]) {
					snprintf(err, errlen, "command ends with a lone backslash: \"%s\"", s);
					goto bad;
				}
				*o++ = p[1];
				p += 2;
			} else {
				*o++ = *p++;
			}
		}
		*o++ = '\0';
	}
	argv[n] = NULL;
	if (n == 0 || argv[0][0] == '\0') {
		snprintf(err, errlen, "empty command (write exec:PROGRAM ARGS...)");
		goto bad;
	}
	*argvp = argv;
	return 0;
bad:
	free(argv);
	free(buf);
	return -EINVAL;
}

void exec_argv_free(char **argv)
{
	if (argv) {
		free(argv[0]);  /* the word buffer starts with the first word */
		free(argv);
	}
}

int exec_listen_refused(const char *local, char *err, size_t errlen)
{
	snprintf(err, errlen, "exec endpoints only connect (use --connect exec:...; "
	         "listen on %s or tcp:// instead)", local);
	return -EOPNOTSUPP;
}

/* ------------------------------------------------------------- environment */

static int same_char(char a, char b, int nocase)
{
	if (nocase) {
		if (a >= 'a' && a <= 'z')
			a = (char)(a - 'a' + 'A');
		if (b >= 'a' && b <= 'z')
			b = (char)(b - 'a' + 'A');
	}
	return a == b;
}

/* Is name[0..len) one of the comma-separated entries of list? */
static int in_list(const char *name, size_t len, const char *list, int nocase)
{
	const char *p = list;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		int prefix = n > 0 && p[n - 1] == '*';
		size_t want = prefix ? n - 1 : n;

		if (prefix && want == 0)
			return 1;   /* "*": everything */
		if (prefix ? len >= want : len == want) {
			size_t i = 0;
			while (i < want && same_char(name[i], p[i], nocase))
				i++;
			if (i == want)
				return 1;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

int exec_env_passes(const char *name, size_t len, const char *base, const char *option, const char *url,
                    int nocase)
{
	return in_list(name, len, base, nocase) || (option && in_list(name, len, option, nocase)) ||
	       (url && in_list(name, len, url, nocase));
}

int exec_env_list_check(const char *list, const char *what, char *err, size_t errlen)
{
	for (const char *p = list; p && *p; p++) {
		if (*p == '=' || *p == ' ' || *p == '\t' || (unsigned char)*p < 0x20 || (*p == ',' && p[1] == ',')) {
			snprintf(err, errlen, "%s \"%s\": a list of variable names, e.g. DOCKER_HOST,SSH_AUTH_SOCK", what,
			         list);
			return -EINVAL;
		}
	}
	return 0;
}

/* n digits at s? */
static int digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int exec_log_line_parse(const char *line, size_t len, int *level, size_t *text_off)
{
	static const char *const names[] = { "error", "warn", "info", "debug", "trace" };
	size_t i = 19;

	/* 2026-12-03T17:27:56 */
	if (len < 21 || !digits(line, 4) || line[4] != '-' || !digits(line + 5, 2) || line[7] != '-' ||
	    !digits(line + 8, 2) || line[10] != 'T' || !digits(line + 11, 2) || line[13] != ':' ||
	    !digits(line + 14, 2) || line[16] != ':' || !digits(line + 17, 2))
		return 0;
	if (line[i] == '.') /* .545 */
		for (i++; i < len && line[i] >= '0' && line[i] <= '9'; i++)
			;
	if (i + 1 >= len || line[i] != 'Z' || line[i + 1] != ' ')
		return 0;
	i += 2;
	for (int l = 0; l < (int)(sizeof(names) / sizeof(names[0])); l++) {
		size_t n = strlen(names[l]);
		if (len - i > n && !strncmp(line + i, names[l], n) && line[i + n] == ' ') {
			for (i += n; i < len && line[i] == ' '; i++)
				;
			*level = l;
			*text_off = i;
			return 1;
		}
	}
	return 0;
}
