/* sys_win32.c - brokerctl's OS calls on Windows (see brokerctl.h). */
#include "config.h"

#include <signal.h>

#include "ctl/brokerctl.h"

void ctl_catch_stop_signals(void (*handler)(int sig))
{
	/* The C runtime raises SIGINT for Ctrl-C and SIGBREAK for Ctrl-Break. */
	signal(SIGINT, handler);
	signal(SIGTERM, handler);
	signal(SIGBREAK, handler);
}
