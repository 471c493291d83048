/* platform_notify_none.c - platform_notify.h where no service manager
 * listens for one (Windows; Linux builds configured --without-libsystemd). */
#include <config.h>

#include "broker/platform_notify.h"

int platform_notify(const char *state)
{
	(void)state;
	return 0;
}

uint64_t platform_notify_watchdog_usec(void)
{
	return 0;
}

const char *platform_notify_kind(void)
{
	return "nothing (built without libsystemd)";
}
