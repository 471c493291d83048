/* link_frame.c - encode, decode and check link frame headers. */
#include <config.h>

#include <errno.h>
#include <stdio.h>

#include "broker/link_frame.h"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void link_frame_encode(const struct link_frame_header *h, uint8_t out[LINK_HEADER_SIZE])
{
	put32(out, h->length);
	put32(out + 4, h->stream);
	out[8] = h->type;
	out[9] = h->flags;
	out[10] = (uint8_t)h->reserved;
	out[11] = (uint8_t)(h->reserved >> 8);
}

void link_frame_decode(const uint8_t in[LINK_HEADER_SIZE], struct link_frame_header *h)
{
	h->length = get32(in);
	h->stream = get32(in + 4);
	h->type = in[8];
	h->flags = in[9];
	h->reserved = (uint16_t)(in[10] | in[11] << 8);
}

const char *link_frame_type_name(uint8_t type)
{
	static const char *const names[] = {
		[LINK_HELLO] = "HELLO", [LINK_AUTH] = "AUTH", [LINK_RPC] = "RPC",
		[LINK_OPEN] = "OPEN", [LINK_OPEN_OK] = "OPEN_OK", [LINK_OPEN_ERR] = "OPEN_ERR",
		[LINK_DATA] = "DATA", [LINK_WINDOW] = "WINDOW", [LINK_FIN] = "FIN",
		[LINK_RST] = "RST", [LINK_PING] = "PING", [LINK_PONG] = "PONG",
		[LINK_GOAWAY] = "GOAWAY", [LINK_AUTH_OK] = "AUTH_OK",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return "unknown";
}

int link_frame_check(const struct link_frame_header *h, char *why, size_t whylen)
{
	uint32_t limit;
	int on_link;   /* 1: must be stream 0; 0: must be a stream */

	switch (h->type) {
	case LINK_HELLO:
	case LINK_AUTH:
	case LINK_GOAWAY:
		on_link = 1;
		limit = LINK_MAX_CONTROL;
		break;
	case LINK_PING:
	case LINK_PONG:
		on_link = 1;
		limit = 64;
		break;
	case LINK_AUTH_OK:
		on_link = 1;
		limit = 0;
		break;
	case LINK_RPC:
		on_link = 1;
		limit = LINK_MAX_RPC;
		break;
	case LINK_OPEN:
	case LINK_OPEN_ERR:
		on_link = 0;
		limit = LINK_MAX_CONTROL;
		break;
	case LINK_OPEN_OK:
	case LINK_FIN:
		on_link = 0;
		limit = 0;
		break;
	case LINK_RST:
		on_link = 0;
		limit = 1024;
		break;
	case LINK_WINDOW:
		on_link = 0;
		limit = 4;
		break;
	case LINK_DATA:
		on_link = 0;
		limit = LINK_MAX_DATA;
		break;
	default:
		snprintf(why, whylen, "unknown frame type %u", h->type);
		return -EPROTO;
	}
	if (h->reserved != 0) {
		snprintf(why, whylen, "%s frame with reserved bits set (0x%04x)", link_frame_type_name(h->type),
		         h->reserved);
		return -EPROTO;
	}
	if (on_link && h->stream != 0) {
		snprintf(why, whylen, "%s frame on stream %u (must be 0)", link_frame_type_name(h->type), h->stream);
		return -EPROTO;
	}
	if (!on_link && h->stream == 0) {
		snprintf(why, whylen, "%s frame on stream 0", link_frame_type_name(h->type));
		return -EPROTO;
	}
	if (h->length > limit) {
		snprintf(why, whylen, "%s frame of %u bytes (limit %u)", link_frame_type_name(h->type), h->length,
		         limit);
		return -EPROTO;
	}
	if (h->type == LINK_WINDOW && h->length != 4) {
		snprintf(why, whylen, "WINDOW frame of %u bytes (must be 4)", h->length);
		return -EPROTO;
	}
	return 0;
}

int link_frame_check_handshake(const struct link_frame_header *h, char *why, size_t whylen)
{
	switch (h->type) {
	case LINK_HELLO:
	case LINK_AUTH:
	case LINK_AUTH_OK:
	case LINK_GOAWAY:
		break;
	default:
		snprintf(why, whylen, "%s frame before the handshake finished (only HELLO and AUTH until then)",
		         link_frame_type_name(h->type));
		return -EPROTO;
	}
	if (h->stream != 0) {
		snprintf(why, whylen, "%s frame on stream %u (must be 0)", link_frame_type_name(h->type), h->stream);
		return -EPROTO;
	}
	if (h->length > LINK_MAX_HANDSHAKE) {
		snprintf(why, whylen, "%s frame of %u bytes before the handshake finished (limit %u)",
		         link_frame_type_name(h->type), h->length, LINK_MAX_HANDSHAKE);
		return -EPROTO;
	}
	return 0;
}
