/* errfmt.c - write a one-line reason into a caller's buffer. */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>

#include "broker/errfmt.h"

int errfmt(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}
