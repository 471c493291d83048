/* display.c - timestamps and short ids as people see them (display.h). */
#include <config.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "broker/display.h"

#define SHORT_ID 12
/* Shorter hex strings are not ids worth cutting (a port, a short hash someone typed). */
#define LONG_ID_MIN 32

/* UTC calendar date of a day count since 1970-01-01 (proleptic Gregorian):
 * plain arithmetic, so no gmtime_r (which Windows lacks) is needed. */
static void civil_from_days(long long z, int *y, int *m, int *d)
{
	z += 719468;
	long long era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

void display_time(char *buf, size_t len, int64_t unix_ms)
{
	long long secs = (long long)(unix_ms >= 0 ? unix_ms / 1000 : -((-unix_ms + 999) / 1000));
	int ms = (int)(unix_ms - (int64_t)secs * 1000);
	long long days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	long long rem = secs - days * 86400;
	int y, mo, d;

	civil_from_days(days, &y, &mo, &d);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, mo, d, (int)(rem / 3600), (int)(rem / 60 % 60),
	         (int)(rem % 60), ms);
}

const char *display_short_id(char *buf, size_t len, const char *id)
{
	/* The id may come after a namespace ("default/0123..." from containerd). */
	const char *slash = strrchr(id, '/');
	const char *tail = slash ? slash + 1 : id;
	size_t n = strlen(tail);
	bool hex = n >= LONG_ID_MIN;

	for (size_t i = 0; hex && i < n; i++)
		hex = isxdigit((unsigned char)tail[i]) != 0;
	if (!hex)
		snprintf(buf, len, "%s", id);
	else
		snprintf(buf, len, "%.*s%.*s", (int)(tail - id), id, SHORT_ID, tail);
	return buf;
}
