/* sys_win32.c - brokerctl's OS calls on Windows (see brokerctl.h). */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <io.h>

#include "ctl/brokerctl.h"

void ctl_catch_stop_signals(void (*handler)(int sig))
{
	/* The C runtime raises SIGINT for Ctrl-C and SIGBREAK for Ctrl-Break. */
	signal(SIGINT, handler);
	signal(SIGTERM, handler);
	signal(SIGBREAK, handler);
}

char *ctl_absolute_path(const char *path)
{
	bool drive = ((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z')) && path[1] == ':';

	if ((drive && (path[2] == '\\' || path[2] == '/')) || ((path[0] == '\\' || path[0] == '/') &&
	                                                       (path[1] == '\\' || path[1] == '/')))
		return NULL;
	if (_access(path, 0) != 0)
		return NULL;
	return _fullpath(NULL, path, 0);
}
