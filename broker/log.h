/* log.h - one-line log records, text or JSON, tagged with a subsystem. */
#ifndef BROKER_LOG_H
#define BROKER_LOG_H

#include "broker/printf_attr.h"

#include <stdarg.h>
#include "broker/plugin.h"

enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };

/*
 * The log sink is process-wide on purpose: it is stderr, which is itself
 * process-wide, and every module (including libevent's own messages routed
 * here) writes to it.  Its settings are the only module state in the core.
 */
void log_configure(enum broker_log_level level, enum log_format format);
enum broker_log_level log_level(void);
int log_level_parse(const char *s, enum broker_log_level *out);
int log_format_parse(const char *s, enum log_format *out);
const char *log_level_name(enum broker_log_level level);

/* Route libevent's internal warnings into our log (tag "libevent"). */
void log_capture_libevent(void);

void log_write(enum broker_log_level level, const char *tag, const char *fmt, ...)
	BROKER_PRINTF(3, 4);
void log_vwrite(enum broker_log_level level, const char *tag, const char *fmt, va_list ap);

#define log_error(tag, ...) log_write(BROKER_LOG_ERROR, tag, __VA_ARGS__)
#define log_warn(tag, ...) log_write(BROKER_LOG_WARN, tag, __VA_ARGS__)
#define log_info(tag, ...) log_write(BROKER_LOG_INFO, tag, __VA_ARGS__)
#define log_debug(tag, ...)                                                   \
	do {                                                                      \
		if (log_level() >= BROKER_LOG_DEBUG)                                  \
			log_write(BROKER_LOG_DEBUG, tag, __VA_ARGS__);                   \
	} while (0)

#endif
