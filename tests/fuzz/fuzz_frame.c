/* fuzz_frame.c - libFuzzer target: the input is a stream of link frames.
 *
 * Each 12-byte header goes through link_frame_decode and link_frame_check.
 * Invariants checked (abort on violation, so the fuzzer reports it):
 *   - encode(decode(h)) reproduces the 12 header bytes exactly;
 *   - a header that passes the check has a known type, the right stream
 *     (0 for link-level types, non-zero for stream types), reserved 0 and a
 *     length within the type's limit (WINDOW exactly 4);
 *   - a header that fails the check gets a non-empty reason;
 *   - link_frame_check_handshake (the pre-auth rule) passes only HELLO,
 *     AUTH, AUTH_OK and GOAWAY on stream 0 of at most LINK_MAX_HANDSHAKE
 *     bytes, and gives a reason for everything else;
 *   - every type has a name.
 * A header that passes is followed by its payload (skipped); one that fails
 * resynchronises one byte further, so every offset gets parsed. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/link_frame.h"

static uint32_t limit_of(uint8_t type, int *on_link)
{
	switch (type) {
	case LINK_HELLO:
	case LINK_AUTH:
	case LINK_GOAWAY:
		*on_link = 1;
		return LINK_MAX_CONTROL;
	case LINK_PING:
	case LINK_PONG:
		*on_link = 1;
		return 64;
	case LINK_RPC:
		*on_link = 1;
		return LINK_MAX_RPC;
	case LINK_AUTH_OK:
		*on_link = 1;
		return 0;
	case LINK_OPEN:
	case LINK_OPEN_ERR:
		*on_link = 0;
		return LINK_MAX_CONTROL;
	case LINK_OPEN_OK:
	case LINK_FIN:
		*on_link = 0;
		return 0;
	case LINK_RST:
		*on_link = 0;
		return 1024;
	case LINK_WINDOW:
		*on_link = 0;
		return 4;
	case LINK_DATA:
		*on_link = 0;
		return LINK_MAX_DATA;
	default:
		*on_link = -1;
		return 0;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (size - off >= LINK_HEADER_SIZE) {
		struct link_frame_header h;
		uint8_t again[LINK_HEADER_SIZE];
		char why[160];
		int on_link;
		uint32_t limit;

		link_frame_decode(data + off, &h);
		why[0] = '\0';
		if (link_frame_check_handshake(&h, why, sizeof(why)) == 0) {
			if ((h.type != LINK_HELLO && h.type != LINK_AUTH && h.type != LINK_AUTH_OK &&
			     h.type != LINK_GOAWAY) ||
			    h.stream != 0 || h.length > LINK_MAX_HANDSHAKE)
				abort();
		} else if (!why[0]) {
			abort();
		}
		link_frame_encode(&h, again);
		if (memcmp(again, data + off, LINK_HEADER_SIZE) != 0)
			abort();
		if (!link_frame_type_name(h.type))
			abort();
		why[0] = '\0';
		limit = limit_of(h.type, &on_link);
		if (link_frame_check(&h, why, sizeof(why)) < 0) {
			if (!why[0])
				abort();
			off++;
			continue;
		}
		if (on_link < 0 || h.reserved != 0 || h.length > limit)
			abort();
		if (on_link == 1 && h.stream != 0)
			abort();
		if (on_link == 0 && h.stream == 0)
			abort();
		if (h.type == LINK_WINDOW && h.length != 4)
			abort();
		if (strcmp(link_frame_type_name(h.type), "unknown") == 0)
			abort();
		off += LINK_HEADER_SIZE;
		if (h.length > size - off)
			break;
		off += h.length;
	}
	return 0;
}
