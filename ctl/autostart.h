/* autostart.h - brokerctl autostart: start brokerd at logon.  Windows: a
 * per-user logon task registered through the Task Scheduler's COM API
 * (autostart_win32.c); elsewhere the service manager does this job
 * (autostart_none.c says so: systemd's user unit, see brokerd(8) SYSTEMD). */
#ifndef BROKER_CTL_AUTOSTART_H
#define BROKER_CTL_AUTOSTART_H

#include <stdbool.h>
#include <stddef.h>

/* The task's name in the Task Scheduler's root folder. */
#define AUTOSTART_TASK "broker"

/* Register (or replace) the logon task running program with args (one
 * command-line string, quoted as Windows expects).  0, or <0 with err. */
int autostart_enable(const char *program, const char *args, char *err, size_t errlen);
/* Remove it: 0, -ENOENT when there was none, or <0 with err. */
int autostart_disable(char *err, size_t errlen);
/* Is it there, and what does it run?  0 (*exists says; program and args
 * filled when it does, *enabled whether the scheduler may start it), or <0
 * with err. */
int autostart_query(bool *exists, bool *enabled, char *program, size_t plen, char *args, size_t alen, char *err,
                    size_t errlen);

#endif
