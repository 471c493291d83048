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

/*
 * The environment a child gets (exec(7)-style README of the plugin): a
 * variable passes when its name is in base (this OS's list, below) or in one
 * of the extra lists (the plugin's "env" option and the URL's ?env=).  Lists
 * are comma-separated names; "NAME*" matches a prefix, "*" alone passes
 * everything.  nocase: compare names ignoring case (Windows).
 */
#define EXEC_ENV_BASE_POSIX "PATH,HOME,USER,LOGNAME,SHELL,LANG,LANGUAGE,LC_*,TZ,TMPDIR,XDG_RUNTIME_DIR"
#define EXEC_ENV_BASE_WIN32                                                                                    \
	"SystemRoot,SystemDrive,windir,ComSpec,PATH,PATHEXT,TEMP,TMP,USERPROFILE,USERNAME,USERDOMAIN,APPDATA,"   \
	"LOCALAPPDATA,HOMEDRIVE,HOMEPATH,ProgramData,ProgramFiles,ProgramFiles(x86),ProgramW6432,"             \
	"CommonProgramFiles,NUMBER_OF_PROCESSORS,PROCESSOR_ARCHITECTURE,OS,WSLENV"
int exec_env_passes(const char *name, size_t len, const char *base, const char *option, const char *url,
                    int nocase);
/* A list (option or ?env=) that is not NAME[,NAME...]: -EINVAL with err. */
int exec_env_list_check(const char *list, const char *what, char *err, size_t errlen);

/* Fill err for a listen on exec: (local names the local-socket scheme to
 * suggest, "unix://" or "npipe://"); returns -EOPNOTSUPP. */
int exec_listen_refused(const char *local, char *err, size_t errlen);

/*
 * A line the child logged in brokerd's text format (a child broker over
 * --link-stdio): "2026-12-03T17:27:56.545Z warn  [link] text".  1 with its
 * level (BROKER_LOG_*) and where its text ("[link] text") starts, so the
 * line is relayed with one timestamp and one level, the child's; 0 for any
 * other line.
 */
int exec_log_line_parse(const char *line, size_t len, int *level, size_t *text_off);

#endif
