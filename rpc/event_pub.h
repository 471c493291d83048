/* event_pub.h - the broker's event feed: NNG PUB over ipc://RUNTIME/events.sock. */
#ifndef BROKER_EVENT_PUB_H
#define BROKER_EVENT_PUB_H

#include <stddef.h>
#include <stdint.h>

#include "proto/control.pb-c.h"

/* File name of the event feed socket inside the runtime dir. */
#define EVENT_PUB_SOCKET "events.sock"   /* = RUNTIME_EVENTS_SOCKET */

struct event_pub;

/* runtime_dir_events_url(): "ipc://DIR/events.sock" (malloc'd, NULL on out of memory). */
char *event_pub_url(const char *runtime_dir);

/*
 * Publish on url (ipc:///absolute/path).  The socket file is created with
 * mode 0600 (set before the listener starts) and every connecting pipe's
 * peer uid must be ours or root's (the same check as the control socket);
 * others are closed and counted.  A stale socket file is removed; a live
 * one (another broker publishing) fails with -EADDRINUSE; the directory
 * must exist (ctl_server_start creates the runtime dir).  Needs no event
 * loop.  A watchdog thread replaces the listener when NNG 1.5.2 wedges it
 * (a peer closing mid-handshake; see ctl_server.c).
 */
int event_pub_start(const char *url, struct event_pub **out, char *err, size_t errlen);
/* Close the socket and remove its file; never calls nng_fini.  NULL is fine. */
void event_pub_stop(struct event_pub *p);

/*
 * One message: KIND, a NUL byte, then body (a packed Broker__Control__Event),
 * so subscribers filter by topic prefix ("mapping.", "link.", "route.").
 * Never blocks: a message NNG cannot take at once is dropped and counted.
 * NNG also drops, per subscriber, what a subscriber is too slow to read
 * (its queue holds EVENT_PUB_QUEUE messages); pub/sub allows that and NNG
 * 1.5 gives no way to count it.  NULL p is fine (no feed: nothing sent).
 */
#define EVENT_PUB_QUEUE 256
void event_pub_send(struct event_pub *p, const char *kind, const uint8_t *body, size_t len);
/* Pack ev and send it with ev->kind as the topic. */
void event_pub_publish(struct event_pub *p, const Broker__Control__Event *ev);

uint64_t event_pub_sent(const struct event_pub *p);
uint64_t event_pub_dropped(const struct event_pub *p);
uint64_t event_pub_rejected_peers(const struct event_pub *p);
uint64_t event_pub_listener_restarts(const struct event_pub *p);

#endif
