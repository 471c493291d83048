/* relay_pipes.c - the pool of kernel pipes spliced relays borrow (relay.h).
 * A relay direction holds a pipe only while bytes are in it, so idle
 * connections hold none; a few emptied pipes are kept for the next burst
 * instead of two pipe2() and two close() calls per message. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "broker/log.h"
#include "broker/platform_splice.h"
#include "broker/relay.h"

struct relay_pipe_pool {
	size_t pipe_size;
	size_t max_idle;
	size_t n_idle;
	struct relay_pipe_stats stats;
	struct platform_pipe idle[];
};

struct relay_pipe_pool *relay_pipe_pool_new(size_t max_idle, size_t pipe_size)
{
	struct relay_pipe_pool *pool = calloc(1, sizeof(*pool) + max_idle * sizeof(pool->idle[0]));

	if (!pool)
		return NULL;
	pool->max_idle = max_idle;
	pool->pipe_size = pipe_size;
	return pool;
}

void relay_pipe_pool_free(struct relay_pipe_pool *pool)
{
	if (!pool)
		return;
	while (pool->n_idle > 0)
		platform_pipe_close(&pool->idle[--pool->n_idle]);
	free(pool);
}

int relay_pipe_get(struct relay_pipe_pool *pool, struct platform_pipe *out)
{
	int rc;

	if (pool->n_idle > 0) {
		*out = pool->idle[--pool->n_idle];
		pool->stats.in_use++;
		return 0;
	}
	rc = platform_pipe_open(out, pool->pipe_size);
	if (rc < 0) {
		/* Out of descriptors or pipe pages: the relay fails this one connection, loudly once per cause. */
		log_warn("relay", "cannot open a pipe for splice(2): %s; raise the open-file limit "
		         "(ulimit -n) or run with BROKER_SPLICE=off", strerror(-rc));
		return rc;
	}
	pool->stats.opened++;
	pool->stats.in_use++;
	return 0;
}

void relay_pipe_put(struct relay_pipe_pool *pool, struct platform_pipe *p, bool holds_bytes)
{
	pool->stats.in_use--;
	/* A pipe with bytes left in it (a relay that was cut) would hand them to the next connection. */
	if (holds_bytes || pool->n_idle == pool->max_idle)
		platform_pipe_close(p);
	else
		pool->idle[pool->n_idle++] = *p;
}

void relay_pipe_pool_stats(const struct relay_pipe_pool *pool, struct relay_pipe_stats *out)
{
	*out = pool->stats;
	out->idle = pool->n_idle;
}
