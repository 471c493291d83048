/* linkload_cmd.h - the options of linkload and its commands in other files. */
#ifndef LINKLOAD_CMD_H
#define LINKLOAD_CMD_H

#include "linkload.h"

struct ll_opts {
	struct ll_addr connect, listen, bulk_connect, bulk_listen;
	const char *counts, *dirs, *label;
	uint64_t bytes, min_size;
	unsigned gap_ms, stall_abort_ms;
	bool keep_going;
	int watch[8];
	unsigned nwatch;
	double secs, warm;
	bool verify;
	unsigned timeout;
	uint64_t seed;
	long count;             /* ping */
	unsigned max_ms, bulk;  /* ping */
	unsigned streams;       /* soak */
	uint64_t max_size, max_io;
	unsigned reset_pct, wait_pct, slow_pct, zero_pct;
};

int ll_cmd_soak(const struct ll_opts *o);
int ll_cmd_ping(const struct ll_opts *o);

#endif
