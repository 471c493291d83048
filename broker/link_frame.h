/* link_frame.h - the link's frame header: encode, decode, validate.
 * Pure functions with no I/O, so the fuzzer can drive them directly. */
#ifndef BROKER_LINK_FRAME_H
#define BROKER_LINK_FRAME_H

#include <stddef.h>
#include <stdint.h>

/*
 * Frame: 12-byte header, little-endian, then `length` payload bytes.
 *   u32 length | u32 stream | u8 type | u8 flags | u16 reserved (0)
 */
#define LINK_HEADER_SIZE 12

/*
 * Protocol versions this build speaks (HELLO negotiates the highest common
 * one).  Version 2: a stream to the receiver's own route is opened by its
 * id (Open.route_id, PeerRoute.id), and the receiver decides what an OPEN
 * may reach.  Version 3: proofs bind the transcript of both HELLOs, and a
 * link both sides mark `encrypt` (tcp) seals every frame after the
 * handshake (link_crypto.h).  Older peers are not spoken to.
 */
#define LINK_VERSION_MIN 3
#define LINK_VERSION_MAX 3

/* Payload limits: DATA carries at most 64 KiB; RPC bodies (mapping syncs) may be large. */
#define LINK_MAX_DATA (64u * 1024)
#define LINK_MAX_RPC (16u * 1024 * 1024)
#define LINK_MAX_CONTROL (64u * 1024)
/* Until the handshake is done only HELLO, AUTH, AUTH_OK and GOAWAY of at most this, from anyone. */
#define LINK_MAX_HANDSHAKE (64u * 1024)

/* Initial per-stream credit each side grants the other; a receiver may grow it up to the max. */
#define LINK_INITIAL_WINDOW (256u * 1024)
#define LINK_MAX_WINDOW (4u * 1024 * 1024)

enum link_frame_type {
	LINK_HELLO = 1,     /* stream 0: protobuf Hello; first frame each way */
	LINK_AUTH = 2,      /* stream 0: protobuf Auth (proof), when the peer asked for it */
	LINK_RPC = 3,       /* stream 0: protobuf RPC envelope */
	LINK_OPEN = 4,      /* protobuf Open: connect the target and relay this stream */
	LINK_OPEN_OK = 5,   /* empty */
	LINK_OPEN_ERR = 6,  /* protobuf OpenError: why not */
	LINK_DATA = 7,      /* raw bytes, at most LINK_MAX_DATA */
	LINK_WINDOW = 8,    /* u32 LE: more bytes of credit for this stream */
	LINK_FIN = 9,       /* empty: no more data from the sender on this stream */
	LINK_RST = 10,      /* optional UTF-8 reason: abort the stream */
	LINK_PING = 11,     /* stream 0: 8 opaque bytes, echoed by PONG */
	LINK_PONG = 12,
	LINK_GOAWAY = 13,   /* stream 0: UTF-8 reason; the sender closes the link after it */
	LINK_AUTH_OK = 14,  /* stream 0, empty: the sender checked the peer's AUTH and accepts it */
};

struct link_frame_header {
	uint32_t length;
	uint32_t stream;
	uint8_t type;
	uint8_t flags;
	uint16_t reserved;
};

void link_frame_encode(const struct link_frame_header *h, uint8_t out[LINK_HEADER_SIZE]);
void link_frame_decode(const uint8_t in[LINK_HEADER_SIZE], struct link_frame_header *h);

/*
 * Check a decoded header against the protocol: known type, stream 0 exactly
 * for link-level types and non-zero for stream types, payload within the
 * type's limit, reserved zero.  Returns 0 or -EPROTO with a reason in why.
 */
int link_frame_check(const struct link_frame_header *h, char *why, size_t whylen);

/*
 * Before the handshake is done (the peer is not yet authenticated), the
 * header alone decides: only HELLO, AUTH, AUTH_OK and GOAWAY on stream 0,
 * at most LINK_MAX_HANDSHAKE bytes.  Call it after link_frame_check and
 * before buffering the payload, so an unauthenticated peer can make us hold
 * at most one such frame.  Returns 0 or -EPROTO with a reason in why.
 */
int link_frame_check_handshake(const struct link_frame_header *h, char *why, size_t whylen);

const char *link_frame_type_name(uint8_t type);

#endif
