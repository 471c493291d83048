/* fuzz_url.c - libFuzzer target: url_parse and url_split_host_port on
 * arbitrary NUL-terminated text.  Checks that a parsed URL's strings are
 * C strings inside its storage, that every query key is non-empty and
 * unique, and that a split port is within 0..65535 and the host fits. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_split(const char *address)
{
	char host[64];
	char err[256];
	unsigned port = 70000;

	err[0] = '\0';
	if (url_split_host_port(address, "127.0.0.1", host, sizeof(host), &port, err, sizeof(err)) == 0) {
		if (port > 65535 || strlen(host) >= sizeof(host))
			abort();
	} else if (!err[0]) {
		abort();
	}
	/* A tiny buffer exercises the "too long" path; no default host exercises the empty one. */
	url_split_host_port(address, NULL, host, 2, &port, NULL, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct url u;
	char err[512];

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	err[0] = '\0';
	if (url_parse(text, &u, err, sizeof(err)) == 0) {
		if (!u.pub.text || !u.pub.scheme || !u.pub.address || !*u.pub.scheme || !*u.pub.address)
			abort();
		for (const char *s = u.pub.scheme; *s; s++)
			if (*s >= 'A' && *s <= 'Z')
				abort();
		for (size_t i = 0; i < u.pub.nparams; i++) {
			if (!u.pub.params[i].key[0])
				abort();
			if (url_param(&u.pub, u.pub.params[i].key) != u.pub.params[i].value)
				abort();   /* keys are unique: the first match is this one */
		}
		url_param(&u.pub, "mode");
		check_split(u.pub.address);
		url_free(&u);
	} else if (!err[0]) {
		abort();
	}
	/* Without an error buffer too (callers pass NULL, 0). */
	if (url_parse(text, &u, NULL, 0) == 0)
		url_free(&u);
	check_split(text);
	free(text);
	return 0;
}
