/*
 * linkload.h - what the parts of linkload share: addresses, the clock, the
 * byte generator every stream is checked against, and the stream engine
 * (linkload_flows.c) that drives both ends of many connections in one
 * process.  linkload.c lists the commands.
 */
#ifndef LINKLOAD_H
#define LINKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define LL_CHUNK (128 * 1024)
#define LL_ENDLESS UINT64_MAX   /* flow size: send until the run says stop */
#define LL_NEVER UINT64_MAX     /* reset_at: never reset */
#define LL_HELLO 8              /* each side's first bytes: magic and stream index */

struct ll_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int family;
	char text[300];
};

void ll_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
uint64_t ll_now_us(void);
uint64_t ll_parse_size(const char *s, const char *what);
void ll_parse_addr(const char *s, struct ll_addr *a);
/* A non-blocking listener (an old Unix socket file is replaced). */
int ll_listen(const struct ll_addr *a);
/* A connected socket (blocking connect, then non-blocking), or -errno. */
int ll_connect(const struct ll_addr *a);
void ll_set_nonblock(int fd, bool on);

/* splitmix64: the next number of a seeded sequence. */
uint64_t ll_rand(uint64_t *state);
/* A number in [lo, hi], log-uniform (small sizes as likely per decade as big ones). */
uint64_t ll_rand_log(uint64_t *state, uint64_t lo, uint64_t hi);
/* The bytes at offset off of the flow keyed key. */
void ll_fill(uint64_t key, uint64_t off, uint8_t *buf, size_t len);
/* 0 when buf is the flow's bytes at off, else 1 + the index of the first wrong byte. */
size_t ll_check(uint64_t key, uint64_t off, const uint8_t *buf, size_t len, uint8_t *scratch);

/* ------------------------------------------------------------ the stream engine */

/* One direction of one stream; sender and receiver are both in this process. */
struct ll_flow {
	uint64_t key;
	uint64_t size;          /* bytes the sender sends; LL_ENDLESS until the run stops */
	uint64_t sent, recvd;
	uint64_t t_last;        /* us: the sender's first write, then each read with data */
	uint64_t w_last;        /* the run's scheduling delay (ll_run.wait_us) at t_last */
	uint64_t max_gap;       /* longest wait for data while some was still to come, less the
	                           time the watched processes waited for a CPU meanwhile (us) */
	uint64_t max_gap_wall;  /* that wait on the clock */
	uint64_t gap_at;        /* recvd when that gap ended */
	uint64_t win_start;     /* recvd when the measurement window opened (timed runs) */
	uint64_t win_bytes;
	bool shut;              /* the sender half-closed */
	bool aborted;           /* the sender reset the stream */
	bool eof;               /* the receiver read EOF */
	char bad[200];          /* the first thing wrong with this flow, if any */
};

/* One socket of a stream: the client's (connected to the route) or the server's (accepted). */
struct ll_side {
	int fd;                 /* -1 before the accept, and once closed */
	struct ll_flow *tx, *rx;
	uint8_t hello_tx[LL_HELLO], hello_rx[LL_HELLO];
	unsigned hello_out, hello_in;
	uint64_t reset_at;      /* abort once tx->sent reaches this (LL_NEVER) */
	bool wait_eof;          /* send nothing until rx reached EOF (a reply after the request) */
	bool slow;              /* read with pauses, a slow consumer */
	uint64_t pause_until;   /* slow: no read before this time (us) */
	bool reset_seen;        /* ECONNRESET, EPIPE or ENOTCONN ended this side */
	int err;                /* the errno that ended it */
	bool done;
};

struct ll_stream {
	unsigned idx;
	struct ll_flow up, down;        /* up: client to server; down: server to client */
	struct ll_side client, server;
};

struct ll_run {
	struct ll_stream *s;
	unsigned n;
	int lfd;                        /* the target: where the route connects to */
	int *pending;                   /* accepted, hello not complete yet */
	uint8_t (*pending_hello)[LL_HELLO];
	unsigned *pending_have;
	unsigned npending, pending_cap;
	uint64_t rng;                   /* write and read sizes, pauses */
	uint64_t max_write, max_read;   /* random_io: log-uniform 1..max; else LL_CHUNK */
	bool random_io;
	bool verify;                    /* false: benchmark, bytes are not generated or checked */
	bool stop;                      /* endless flows finish now */
	unsigned sides_done;
	uint64_t loop_max_us;           /* longest time between two polls (the tool's own stall) */
	int watch_fd[9];                /* schedstat of the watched processes and this thread */
	unsigned nwatch;
	uint64_t wait_us;               /* their summed run-queue delay since the run began */
	uint64_t wait_base, wait_sampled;
	uint64_t stall_abort_us;        /* 0, or end the run once a flow waited this long */
	bool stalled;
	uint8_t *buf, *scratch;
};

void ll_run_init(struct ll_run *r, unsigned n, int lfd, uint64_t seed);
void ll_run_free(struct ll_run *r);
/* Stream i: keys, sizes; connect its client to addr (and queue the hellos). */
void ll_stream_setup(struct ll_run *r, unsigned i, uint64_t up_size, uint64_t down_size);
int ll_stream_connect(struct ll_run *r, unsigned i, const struct ll_addr *addr);
/*
 * Move bytes until every side is done, tick returns false, or deadline
 * (us, absolute) passes: 0, or -ETIMEDOUT.  tick (may be NULL) runs about
 * every 20 ms; it may set r->stop.
 */
int ll_run_loop(struct ll_run *r, uint64_t deadline, bool (*tick)(struct ll_run *, void *), void *arg);
/*
 * Watch pid's scheduling delay (/proc/PID/schedstat): a receiver's wait is
 * counted less the time the watched processes (the brokers on the path;
 * this thread is always watched) were runnable but had no CPU, so a loaded
 * machine does not look like a stall, while a stall with idle brokers does.
 */
void ll_run_watch(struct ll_run *r, int pid);
/* r->stop for endless flows: each sender half-closes after what it sent. */
void ll_run_stop(struct ll_run *r);
/* 0 when every byte each way arrived checked (or a planned reset was seen as one); else -1 and why. */
int ll_stream_verdict(const struct ll_stream *s, char *why, size_t len);
/* Describe where stream i stands (for a timeout report). */
void ll_stream_state(const struct ll_stream *s, char *out, size_t len);

#endif
