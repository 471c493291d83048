/* sys_posix.c - brokerctl's OS calls on POSIX (see brokerctl.h). */
#include "config.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/brokerctl.h"

void ctl_catch_stop_signals(void (*handler)(int sig))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

char *ctl_absolute_path(const char *path)
{
	return path[0] == '/' ? NULL : realpath(path, NULL);
}
