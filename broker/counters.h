/* counters.h - per-route traffic counters shown by route list and /metrics. */
#ifndef BROKER_COUNTERS_H
#define BROKER_COUNTERS_H

#include <stdint.h>

struct route_counters {
	uint64_t conns_total;     /* accepted */
	uint64_t conns_active;
	uint64_t conns_refused;   /* over the connection limit */
	uint64_t bytes_in;        /* client -> target */
	uint64_t bytes_out;       /* target -> client */
	uint64_t errors;          /* connect failures, resets, I/O errors */
};

#endif
