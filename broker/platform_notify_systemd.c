/* platform_notify_systemd.c - platform_notify.h through libsystemd's sd_notify. */
#include <config.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-daemon.h>

#include "broker/platform_notify.h"

int platform_notify(const char *state)
{
	struct timespec ts;
	int rc;

	/*
	 * systemd ties a RELOADING=1 to the moment it was sent (Type=notify-reload
	 * requires it), on CLOCK_MONOTONIC.  unset_environment 0: keep
	 * $NOTIFY_SOCKET, so the reload, the status and the stop all reach it.
	 */
	if (strncmp(state, "RELOADING=1", 11) == 0 && clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
		rc = sd_notifyf(0, "%s\nMONOTONIC_USEC=%llu", state,
		                (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	else
		rc = sd_notify(0, state);
	return rc > 0 ? 1 : rc;
}

uint64_t platform_notify_watchdog_usec(void)
{
	uint64_t usec = 0;

	return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}

const char *platform_notify_kind(void)
{
	return "systemd (sd_notify)";
}
