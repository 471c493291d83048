/*
 * platform_notify.h - tell the service manager that started brokerd how it
 * is doing.  One implementation per build: platform_notify_systemd.c
 * (systemd's notify protocol through libsystemd's sd_notify; the socket
 * comes from $NOTIFY_SOCKET) and platform_notify_none.c (Windows, and
 * builds configured --without-libsystemd: nothing to tell anyone).
 * broker/service.c decides what to say and when.
 */
#ifndef BROKER_PLATFORM_NOTIFY_H
#define BROKER_PLATFORM_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Send state, one or more "KEY=VALUE" lines separated by '\n'
 * ("READY=1\nSTATUS=2 routes, link up"); a RELOADING=1 gets the
 * MONOTONIC_USEC= systemd wants with it.  Returns 1 when a manager got
 * it, 0 when none listens (no $NOTIFY_SOCKET), -errno when sending failed.
 */
int platform_notify(const char *state);

/*
 * The watchdog interval the manager asked for, in microseconds
 * ($WATCHDOG_USEC, for this process when $WATCHDOG_PID is set), or 0 when it
 * asked for none.
 */
uint64_t platform_notify_watchdog_usec(void);

/* What this build can tell: "systemd (sd_notify)" or "nothing (built without libsystemd)". */
const char *platform_notify_kind(void);

#endif
