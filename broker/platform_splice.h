/* platform_splice.h - move a stream's bytes socket -> kernel pipe -> socket
 * without copying them through user space (Linux splice(2)).  Where the OS
 * has no such call (Windows, other POSIX systems) platform_splice_usable is
 * always false and the relay keeps to its buffers; the other calls then
 * return -ENOSYS. */
#ifndef BROKER_PLATFORM_SPLICE_H
#define BROKER_PLATFORM_SPLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "broker/plugin.h"

/* A pipe used as the in-kernel buffer of one relay direction. */
struct platform_pipe {
	broker_fd r, w;
	size_t size;    /* its capacity in bytes, as the kernel reports it */
};

/* Can fd's bytes be spliced: a connected stream socket of a family whose
 * splice the kernel implements without copying (unix, tcp)?  Anything else
 * (pipes, vsock, datagrams) stays on the buffer path. */
bool platform_splice_usable(broker_fd fd);
/* A non-blocking, close-on-exec pipe, asked to hold size bytes (best effort:
 * the kernel may give less, see fs.pipe-max-size and pipe-user-pages-soft). */
int platform_pipe_open(struct platform_pipe *p, size_t size);
void platform_pipe_close(struct platform_pipe *p);
/* Move up to max bytes from a socket into the pipe: bytes, 0 at EOF, -EAGAIN
 * when the socket is empty or the pipe full, or -errno. */
ssize_t platform_splice_in(broker_fd from, struct platform_pipe *p, size_t max);
/* Move up to max bytes from the pipe into a socket: bytes, -EAGAIN when the
 * socket is full, or -errno. */
ssize_t platform_splice_out(struct platform_pipe *p, broker_fd to, size_t max);

#endif
