/* log.c - one line per record on stderr, text or JSON, tagged with a subsystem. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <event2/event.h>
#include <event2/util.h>

#include "broker/display.h"
#include "broker/log.h"
#include "broker/text_escape.h"

/* See log.h for why this is module state. */
static struct {
	enum broker_log_level level;
	enum log_format format;
} log_settings = { BROKER_LOG_INFO, LOG_FORMAT_TEXT };

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };

void log_configure(enum broker_log_level level, enum log_format format)
{
	log_settings.level = level;
	log_settings.format = format;
}

enum broker_log_level log_level(void)
{
	return log_settings.level;
}

const char *log_level_name(enum broker_log_level level)
{
	if ((unsigned)level < sizeof(level_names) / sizeof(level_names[0]))
		return level_names[level];
	return "?";
}

int log_level_parse(const char *s, enum broker_log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum broker_log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = BROKER_LOG_WARN;
		return 0;
	}
	return -1;
}

int log_format_parse(const char *s, enum log_format *out)
{
	if (strcasecmp(s, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcasecmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

/* A line being built; one write, so threads never interleave a line. */
struct line {
	char buf[16384];   /* msg (2 KiB) escaped six-fold at worst, plus the frame */
	char safe[8192];   /* msg with control characters escaped (4-fold at worst) */
	size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (n > sizeof(l->buf) - 1 - l->len)
		n = sizeof(l->buf) - 1 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* Append s to out as the inside of a JSON string. */
static void json_escape(struct line *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(out, esc, 2);
		} else if (c == '\n') {
			puts_(out, "\\n");
		} else if (c == '\t') {
			puts_(out, "\\t");
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			puts_(out, esc);
		} else {
			put(out, (const char *)&c, 1);
		}
	}
}

void log_vwrite(enum broker_log_level level, const char *tag, const char *fmt, va_list ap)
{
	char msg[2048];
	char stamp[64];
	struct timeval tv;
	struct line *l;
	if (level > log_settings.level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	evutil_gettimeofday(&tv, NULL);
	display_time(stamp, sizeof(stamp), (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000);

	l = malloc(sizeof(*l));
	if (!l)
		return;
	l->len = 0;
	/*
	 * Messages quote what peers and clients sent (ids, hostnames, reasons):
	 * no control character reaches the log, in either format, so nobody can
	 * forge a line or send escapes to whoever reads it on a terminal.
	 */
	const char *text = msg;
	if (text_needs_escape(msg))
		text = text_escape(l->safe, sizeof(l->safe), msg);
	if (log_settings.format == LOG_FORMAT_JSON) {
		puts_(l, "{\"time\":\"");
		puts_(l, stamp);
		puts_(l, "\",\"level\":\"");
		puts_(l, log_level_name(level));
		puts_(l, "\",\"tag\":\"");
		json_escape(l, tag ? tag : "broker");
		puts_(l, "\",\"msg\":\"");
		json_escape(l, text);
		puts_(l, "\"}");
	} else {
		int n = snprintf(l->buf, sizeof(l->buf) - 1, "%s %-5s [%s] %s", stamp, log_level_name(level),
		                 tag ? tag : "broker", text);
		l->len = n < 0 ? 0 : (size_t)n < sizeof(l->buf) - 1 ? (size_t)n : sizeof(l->buf) - 2;
	}
	l->buf[l->len++] = '\n';
	/* One fwrite per line: stdio locks the stream per call, so threads never interleave a line. */
	fwrite(l->buf, 1, l->len, stderr);
	fflush(stderr);
	free(l);
}

void log_write(enum broker_log_level level, const char *tag, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, tag, fmt, ap);
	va_end(ap);
}

static void libevent_log_cb(int severity, const char *msg)
{
	enum broker_log_level level = BROKER_LOG_DEBUG;

	if (severity == EVENT_LOG_ERR)
		level = BROKER_LOG_ERROR;
	else if (severity == EVENT_LOG_WARN)
		level = BROKER_LOG_WARN;
	log_write(level, "libevent", "%s", msg);
}

void log_capture_libevent(void)
{
	event_set_log_callback(libevent_log_cb);
}
