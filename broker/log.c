/* log.c - one line per record on stderr, text or JSON, tagged with a subsystem. */
#include <config.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/time.h>
#include <event2/event.h>

#include "broker/log.h"

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

/* Append s to out as the inside of a JSON string. */
static void json_escape(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
}

void log_vwrite(enum broker_log_level level, const char *tag, const char *fmt, va_list ap)
{
	char msg[2048];
	char stamp[64];
	struct timeval tv;
	struct tm tm;

	if (level > log_settings.level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	gettimeofday(&tv, NULL);
	time_t secs = tv.tv_sec;
	gmtime_r(&secs, &tm);
	snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));

	/* One fprintf-sequence under the stdio lock so threads never interleave a line. */
	flockfile(stderr);
	if (log_settings.format == LOG_FORMAT_JSON) {
		fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",\"tag\":\"", stamp, log_level_name(level));
		json_escape(stderr, tag ? tag : "broker");
		fputs("\",\"msg\":\"", stderr);
		json_escape(stderr, msg);
		fputs("\"}\n", stderr);
	} else {
		fprintf(stderr, "%s %-5s [%s] %s\n", stamp, log_level_name(level), tag ? tag : "broker", msg);
	}
	funlockfile(stderr);
	fflush(stderr);
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
