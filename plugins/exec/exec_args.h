/*
 * plugins/exec/exec_args.h - shared by the exec plugin's POSIX (exec.c) and
 * Windows (exec_win32.c) backends; see exec_args.c.
 */
#ifndef BROKER_PLUGINS_EXEC_EXEC_ARGS_H
#define BROKER_PLUGINS_EXEC_EXEC_ARGS_H

#include <stddef.h>

#define EXEC_DESCRIPTION "run a command and use its stdin/stdout as the stream (exec:COMMAND ARGS...)"

/*
 * Split an exec: address into a NULL-terminated argv.  0, or -ENOMEM /
 * -EINVAL with err set (unterminated quote, lone backslash, empty command).
 */
int exec_argv_split(const char *s, char ***argvp, char *err, size_t errlen);
void exec_argv_free(char **argv);

/* Fill err for a listen on exec: (local names the local-socket scheme to
 * suggest, "unix://" or "npipe://"); returns -EOPNOTSUPP. */
int exec_listen_refused(const char *local, char *err, size_t errlen);

#endif
