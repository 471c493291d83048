/*
 * service.h - what brokerd tells the service manager that runs it
 * (systemd's notify protocol through platform_notify.h; nothing where no
 * manager listens):
 *   READY=1      once plugins are started and stored and configured routes
 *                and mappings are applied (their listeners are open);
 *   RELOADING=1, then READY=1 again, around a reload (SIGHUP, brokerctl reload);
 *   STOPPING=1   when shutdown begins (SIGTERM, SIGINT, brokerctl shutdown);
 *   STATUS=...   one line saying what runs ("2 routes, link up, 3 mappings"),
 *                with READY=1 and again whenever it changes;
 *   WATCHDOG=1   at half the interval the manager asked for (WatchdogSec=),
 *                from the event loop: a stuck loop stops the pings.
 * Every call is made on the loop thread.
 */
#ifndef BROKER_SERVICE_H
#define BROKER_SERVICE_H

#include <stddef.h>

struct event_base;
struct service;

/* Write the one-line status into buf ("2 routes, link up, 0 mappings"). */
typedef void (*service_status_fn)(void *arg, char *buf, size_t len);

/* Set up (and start the watchdog pings when the manager asked for them).  0 or -ENOMEM. */
int service_create(struct event_base *base, service_status_fn status, void *arg, struct service **out);
void service_destroy(struct service *sv);

/* READY=1 with the status; also the end of a reload. */
void service_ready(struct service *sv);
/* RELOADING=1: a reload begins; service_ready ends it. */
void service_reloading(struct service *sv);
/* STOPPING=1 with why in the status ("stopping (SIGTERM): draining 2 connections"). */
void service_stopping(struct service *sv, const char *why);
/* Something the status line shows may have changed: send it again, from the
 * loop and once however many changes came before (only after READY=1). */
void service_changed(struct service *sv);

#endif
