/* service.c - readiness, reloads, stop, status and watchdog pings for the
 * service manager (service.h), over platform_notify.h. */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "broker/log.h"
#include "broker/platform_notify.h"
#include "broker/service.h"

#define TAG "service"
#define STATUS_MAX 256

struct service {
	struct event_base *base;
	service_status_fn status;
	void *arg;
	struct event *refresh;     /* service_changed: one status update from the loop */
	struct event *watchdog;    /* NULL when the manager asked for no watchdog */
	bool ready;                /* READY=1 sent and no reload or stop since */
	bool stopping;
	bool told;                 /* a manager answered once: log the first time only */
	char last[STATUS_MAX];     /* the status line last sent */
};

/* Send state; log what a manager got (debug) and a failure to send (once per kind of state). */
static void tell(struct service *sv, const char *state)
{
	int rc = platform_notify(state);

	if (rc > 0) {
		if (!sv->told)
			log_info(TAG, "telling the service manager how brokerd is doing (%s)", platform_notify_kind());
		sv->told = true;
		log_debug(TAG, "service manager: %s", state);
	} else if (rc < 0) {
		log_warn(TAG, "cannot tell the service manager '%.40s': %s (NOTIFY_SOCKET)", state, strerror(-rc));
	}
}

/* The status line now, remembered as the one last sent. */
static const char *status_now(struct service *sv)
{
	sv->last[0] = '\0';
	sv->status(sv->arg, sv->last, sizeof(sv->last));
	return sv->last;
}

static void on_refresh(evutil_socket_t fd, short what, void *arg)
{
	struct service *sv = arg;
	char line[STATUS_MAX] = "", state[STATUS_MAX + 16];

	(void)fd;
	(void)what;
	if (!sv->ready || sv->stopping)
		return;
	sv->status(sv->arg, line, sizeof(line));
	if (strcmp(line, sv->last) == 0)
		return;
	snprintf(sv->last, sizeof(sv->last), "%s", line);
	snprintf(state, sizeof(state), "STATUS=%s", line);
	tell(sv, state);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	/* No log: this runs every few seconds for the life of the daemon. */
	platform_notify("WATCHDOG=1");
	(void)arg;
}

int service_create(struct event_base *base, service_status_fn status, void *arg, struct service **out)
{
	struct service *sv = calloc(1, sizeof(*sv));
	uint64_t usec = platform_notify_watchdog_usec();

	*out = NULL;
	if (!sv)
		return -ENOMEM;
	sv->base = base;
	sv->status = status;
	sv->arg = arg;
	sv->refresh = evtimer_new(base, on_refresh, sv);
	if (!sv->refresh)
		goto nomem;
	if (usec > 0) {
		/* Half the interval, as sd_watchdog_enabled(3) advises: a late ping is not a dead daemon. */
		struct timeval tv;

		tv.tv_sec = (long)(usec / 2 / 1000000);
		tv.tv_usec = (long)(usec / 2 % 1000000);
		sv->watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, sv);
		if (!sv->watchdog || event_add(sv->watchdog, &tv) < 0)
			goto nomem;
		log_info(TAG, "watchdog: the service manager wants a sign of life every %llu ms; sending one every %llu ms",
		         (unsigned long long)(usec / 1000), (unsigned long long)(usec / 2000));
	}
	*out = sv;
	return 0;
nomem:
	service_destroy(sv);
	return -ENOMEM;
}

void service_destroy(struct service *sv)
{
	if (!sv)
		return;
	if (sv->refresh)
		event_free(sv->refresh);
	if (sv->watchdog)
		event_free(sv->watchdog);
	free(sv);
}

void service_ready(struct service *sv)
{
	char state[STATUS_MAX + 32];

	if (!sv || sv->stopping)
		return;
	snprintf(state, sizeof(state), "READY=1\nSTATUS=%s", status_now(sv));
	sv->ready = true;
	tell(sv, state);
}

void service_reloading(struct service *sv)
{
	if (!sv || sv->stopping)
		return;
	sv->ready = false;
	tell(sv, "RELOADING=1\nSTATUS=reloading the configuration");
}

void service_stopping(struct service *sv, const char *why)
{
	char state[STATUS_MAX + 32];

	if (!sv || sv->stopping)
		return;
	sv->stopping = true;
	sv->ready = false;
	snprintf(state, sizeof(state), "STOPPING=1\nSTATUS=%s", why);
	tell(sv, state);
}

void service_changed(struct service *sv)
{
	struct timeval now = { 0, 0 };

	if (sv && sv->ready && !evtimer_pending(sv->refresh, NULL))
		evtimer_add(sv->refresh, &now);
}
