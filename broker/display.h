/* display.h - how the daemon and brokerctl show things to people: one
 * timestamp format (the log's) and short container ids.  Linked into both
 * (librpc), so a log line, a watch line and a table agree. */
#ifndef BROKER_DISPLAY_H
#define BROKER_DISPLAY_H

#include <stddef.h>
#include <stdint.h>

/* "2026-11-22T10:04:05.123Z": UTC, milliseconds; the log's own format. */
void display_time(char *buf, size_t len, int64_t unix_ms);

/*
 * An owner id as tables and event lines show it: a long hex id (a
 * container's 64 hex digits), alone or after a namespace ("default/..."),
 * becomes its first 12, as docker ps shows it; anything else is kept.
 * --json keeps full ids.
 */
const char *display_short_id(char *buf, size_t len, const char *id);

#endif
