/* text_escape.h - make text that may come from a peer or a client safe to
 * print: control characters become visible escapes, so such text can
 * neither forge a log line (a newline) nor steer a terminal (ESC, CSI).
 * Shared by the daemon's log and brokerctl's output. */
#ifndef BROKER_TEXT_ESCAPE_H
#define BROKER_TEXT_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

/* Does s hold anything text_escape would change? */
bool text_needs_escape(const char *s);

/*
 * Copy s into out (outlen > 0; always NUL-terminated, cut short if it does
 * not fit) with \n, \r and \t written as such, and every other C0 control
 * character, DEL, the C1 controls (U+0080..U+009F) and each byte that is
 * not part of valid UTF-8 written as \xHH.  Printable text, UTF-8
 * included, and backslashes (Windows paths) pass unchanged.  Returns out.
 */
char *text_escape(char *out, size_t outlen, const char *s);

#endif
