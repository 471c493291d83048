/* errfmt.h - write a one-line reason into a caller's (err, errlen) buffer. */
#ifndef BROKER_ERRFMT_H
#define BROKER_ERRFMT_H

#include "broker/printf_attr.h"

#include <stddef.h>

/* Formats into err (if non-NULL) and returns `code` so callers can `return errfmt(...)`. */
int errfmt(char *err, size_t errlen, int code, const char *fmt, ...)
	BROKER_PRINTF(4, 5);

#endif
