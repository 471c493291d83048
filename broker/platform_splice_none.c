/* platform_splice_none.c - platform_splice.h where there is no splice(2)
 * (Windows, POSIX systems other than Linux): nothing is usable and every
 * relay keeps to its buffers. */
#include <config.h>

#include <errno.h>

#include "broker/platform_splice.h"

bool platform_splice_usable(broker_fd fd)
{
	(void)fd;
	return false;
}

int platform_pipe_open(struct platform_pipe *p, size_t size)
{
	(void)size;
	p->r = p->w = BROKER_FD_NONE;
	p->size = 0;
	return -ENOSYS;
}

void platform_pipe_close(struct platform_pipe *p)
{
	(void)p;
}

ssize_t platform_splice_in(broker_fd from, struct platform_pipe *p, size_t max)
{
	(void)from, (void)p, (void)max;
	return -ENOSYS;
}

ssize_t platform_splice_out(struct platform_pipe *p, broker_fd to, size_t max)
{
	(void)p, (void)to, (void)max;
	return -ENOSYS;
}
