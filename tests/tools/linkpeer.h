/* linkpeer.h - what linkpeer.c (the protocol basics and the original
 * commands) shares with linkpeer_bounds.c (floods and oversized input for
 * the bounds tests).  Frame layout and types: broker/link_frame.h, kept in
 * step by hand so the tool needs no generated code. */
#ifndef BROKER_TESTS_LINKPEER_H
#define BROKER_TESTS_LINKPEER_H

#include <stddef.h>
#include <stdint.h>

#define HDR 12
#define LINK_V 3          /* LINK_VERSION_MAX */
enum {
	F_HELLO = 1, F_AUTH = 2, F_RPC = 3, F_OPEN = 4, F_OPEN_OK = 5, F_OPEN_ERR = 6,
	F_DATA = 7, F_WINDOW = 8, F_FIN = 9, F_RST = 10, F_PING = 11, F_PONG = 12, F_GOAWAY = 13,
	F_AUTH_OK = 14,
};

struct reader {
	int fd;
	unsigned char *buf;
	size_t len, cap;
	int eof;          /* 1 closed, 2 reset */
};

struct frame {
	uint32_t len, stream;
	uint8_t type;
	unsigned char *payload;
};

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
uint64_t num(const char *s, const char *what);
double now_s(void);
int dial(const char *addr);
/* dial, but -1 when the connect does not complete within ms (0: wait as long as it takes). */
int dial_timeout(const char *addr, int ms);
int write_all(int fd, const void *buf, size_t n);
void put32(unsigned char *p, uint32_t v);
uint32_t get32(const unsigned char *p);
void header(unsigned char h[HDR], uint32_t len, uint32_t stream, uint8_t type);
int send_frame(int fd, uint8_t type, uint32_t stream, const void *payload, size_t len);
const char *type_name(unsigned t);
size_t put_varint(unsigned char *p, uint64_t v);
size_t put_bytes(unsigned char *p, unsigned field, const void *data, size_t len);
/* Field 8 (auth_required) of a Hello; -1 if it does not parse. */
int hello_auth_required(const unsigned char *p, size_t len);
/* Read what is there, waiting at most ms; 0 data/eof, -1 timeout. */
int reader_fill(struct reader *r, int ms);
/* Take one complete frame out of the reader (payload malloc'd), or 0 if none yet. */
int reader_frame(struct reader *r, struct frame *f);
void print_frame(const struct frame *f);
/* Print frames until close, `want` on want_stream, or ms; 0 closed, 1 seen, 3 timeout. */
int drain(struct reader *r, unsigned ms, uint8_t want, uint32_t want_stream, struct frame *hello_out);

/* linkpeer_bounds.c: its options and commands. */
/* a is an option this file knows: take its value v (i is advanced when used); 1 taken, 0 not ours. */
int bounds_option(const char *a, const char *v, int *i);
/* Run cmd if it is one of ours: its exit status, or -1 when cmd is not ours. */
int bounds_cmd(const char *cmd, int argc, char **argv);
void bounds_usage(void);

#endif
