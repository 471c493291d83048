/* cmd_autostart.c - brokerctl autostart enable|disable|status: start brokerd
 * at this user's logon (autostart.h).  Needs no running broker. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/autostart.h"
#include "ctl/brokerctl.h"

/* Append arg to a Windows command line as CommandLineToArgvW reads it back:
 * quoted when it has a space, tab or quote (or is empty); backslashes
 * doubled only before a quote.  0, or -ENOSPC. */
static int append_arg(char *line, size_t len, const char *arg)
{
	size_t at = strlen(line);
	bool quote = !arg[0] || strpbrk(arg, " \t\"") != NULL;

#define PUT(c) do { if (at + 1 >= len) return -ENOSPC; line[at++] = (c); } while (0)
	if (at)
		PUT(' ');
	if (quote)
		PUT('"');
	for (const char *p = arg; *p; p++) {
		size_t bs = 0;

		while (p[bs] == '\\')
			bs++;
		if (bs) {
			/* Backslashes before a quote (or the closing quote) are doubled. */
			size_t times = (p[bs] == '"' || (!p[bs] && quote)) ? 2 * bs : bs;
			for (size_t i = 0; i < times; i++)
				PUT('\\');
			p += bs - 1;
			continue;
		}
		if (*p == '"')
			PUT('\\');
		PUT(*p);
	}
	if (quote)
		PUT('"');
#undef PUT
	line[at] = '\0';
	return 0;
}

static int autostart_status(const struct opts *o)
{
	char program[1024], args[4096], err[512];
	bool exists, enabled;
	int rc = autostart_query(&exists, &enabled, program, sizeof(program), args, sizeof(args), err, sizeof(err));

	if (rc < 0)
		return die(rc == -ENOTSUP ? EXIT_USAGE : 1, "autostart status: %s", err);
	if (o->json) {
		print_json(json_pack("{s:s, s:b, s:b, s:s?, s:s?}", "task", AUTOSTART_TASK, "exists", (int)exists,
		                     "enabled", (int)enabled, "program", exists ? program : NULL, "arguments",
		                     exists ? args : NULL));
	} else if (exists) {
		printf("autostart: logon task '%s' runs %s%s%s (%s)\n", AUTOSTART_TASK, program, args[0] ? " " : "", args,
		       enabled ? "enabled" : "disabled in the Task Scheduler");
	} else {
		printf("autostart: no logon task '%s' (brokerctl autostart enable -- PROGRAM [ARGS...] adds one)\n",
		       AUTOSTART_TASK);
	}
	return 0;
}

int cmd_autostart(const struct opts *o)
{
	const char *sub = o->nargs > 1 ? o->args[1] : NULL;
	char err[512];
	int rc;

	if (!sub)
		return die(EXIT_USAGE, "autostart: missing subcommand (enable, disable, status)");
	if (strcmp(sub, "status") == 0) {
		if (o->nargs > 2)
			return die(EXIT_USAGE, "autostart status: unexpected argument '%s'", o->args[2]);
		return autostart_status(o);
	}
	if (strcmp(sub, "disable") == 0) {
		if (o->nargs > 2)
			return die(EXIT_USAGE, "autostart disable: unexpected argument '%s'", o->args[2]);
		if ((rc = autostart_disable(err, sizeof(err))) < 0)
			return die(rc == -ENOTSUP ? EXIT_USAGE : 1, "autostart disable: %s", err);
		printf("autostart: logon task '%s' removed\n", AUTOSTART_TASK);
		return 0;
	}
	if (strcmp(sub, "enable") != 0)
		return die(EXIT_USAGE, "autostart: unknown subcommand '%s' (use enable, disable, status)", sub);
	if (o->nargs < 3)
		return die(EXIT_USAGE, "autostart enable: missing the brokerd command line (brokerctl autostart enable -- "
		                       "C:\\path\\brokerd.exe ARGS...)");
	{
		char *abs = ctl_absolute_path(o->args[2]);
		const char *program = abs ? abs : o->args[2];
		char args[4096] = "";

		for (int i = 3; i < o->nargs; i++)
			if (append_arg(args, sizeof(args), o->args[i]) < 0) {
				free(abs);
				return die(EXIT_USAGE, "autostart enable: the command line is longer than %zu bytes", sizeof(args));
			}
		rc = autostart_enable(program, args, err, sizeof(err));
		if (rc < 0) {
			free(abs);
			return die(rc == -ENOTSUP ? EXIT_USAGE : 1, "autostart enable: %s", err);
		}
		printf("autostart: logon task '%s' registered: %s%s%s\n", AUTOSTART_TASK, program, args[0] ? " " : "", args);
		free(abs);
	}
	return 0;
}
