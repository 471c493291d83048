/* events.h - the broker's event feed (NNG PUB on RUNTIME/events.sock): mapping,
 * link and route changes for `brokerctl watch` and scripts. */
#ifndef BROKER_EVENTS_H
#define BROKER_EVENTS_H

#include "broker/printf_attr.h"

#include "broker/mapping.h"
#include "proto/control.pb-c.h"

struct broker;

/* Open the feed next to the control socket; failure is logged and the broker runs without it. */
void events_start(struct broker *b);
void events_stop(struct broker *b);

/* One line for people: "link.up", "link unix:///... up: peer X". */
void events_text(struct broker *b, const char *kind, const char *fmt, ...) BROKER_PRINTF(3, 4);

/* Fill a MappingInfo message from a table view (strings are borrowed). */
void mapping_info_msg(const struct mapping_info *mi, Broker__Control__MappingInfo *m);

#endif
