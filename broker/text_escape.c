/* text_escape.c - see text_escape.h. */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "broker/text_escape.h"

/*
 * Length of the valid UTF-8 sequence at p (2..4), or 0 when p does not
 * start one (a lone continuation byte, an overlong form, a surrogate, past
 * U+10FFFF, or a sequence cut short).
 */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	size_t n;
	uint32_t cp;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	/* C1 controls (U+0080..U+009F): terminals act on them like on ESC sequences. */
	if (n == 2 && cp < 0xa0)
		return 0;
	return n;
}

/* How many bytes of p pass unchanged (0: p[0] needs an escape). */
static size_t plain_run(const unsigned char *p)
{
	if (*p >= 0x20 && *p < 0x7f)
		return 1;
	if (*p >= 0x80)
		return utf8_len(p);
	return 0;
}

bool text_needs_escape(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = plain_run(p);
		if (!n)
			return true;
		p += n;
	}
	return false;
}

char *text_escape(char *out, size_t outlen, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	while (*p) {
		size_t n = plain_run(p);
		char esc[5];
		size_t elen;

		if (n) {
			if (o + n >= outlen)
				break;
			memcpy(out + o, p, n);
			o += n;
			p += n;
			continue;
		}
		if (*p == '\n' || *p == '\r' || *p == '\t') {
			esc[0] = '\\';
			esc[1] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
			elen = 2;
		} else {
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			elen = 4;
		}
		if (o + elen >= outlen)
			break;
		memcpy(out + o, esc, elen);
		o += elen;
		p++;
	}
	out[o] = '\0';
	return out;
}
