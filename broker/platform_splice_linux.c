/* platform_splice_linux.c - platform_splice.h on Linux: splice(2).  Other
 * systems build platform_splice_none.c instead (see broker/local.mk). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/platform_splice.h"


bool platform_splice_usable(broker_fd fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int type = 0;
	socklen_t tlen = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_STREAM)
		return false;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return false;
	return ss.ss_family == AF_UNIX || ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
}

int platform_pipe_open(struct platform_pipe *p, size_t size)
{
	int fds[2];
	int got;

	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	/* Best effort: over the user's pipe page limit the kernel refuses and the pipe keeps its default size. */
	if (size > 0)
		(void)fcntl(fds[1], F_SETPIPE_SZ, (int)size);
	got = fcntl(fds[1], F_GETPIPE_SZ);
	p->r = fds[0];
	p->w = fds[1];
	p->size = got > 0 ? (size_t)got : 4096;
	return 0;
}

void platform_pipe_close(struct platform_pipe *p)
{
	if (p->r >= 0)
		close(p->r);
	if (p->w >= 0)
		close(p->w);
	p->r = p->w = -1;
}

static ssize_t splice_nb(int from, int to, size_t max)
{
	ssize_t n;

	do
		n = splice(from, NULL, to, NULL, max, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

ssize_t platform_splice_in(broker_fd from, struct platform_pipe *p, size_t max)
{
	return splice_nb(from, p->w, max);
}

ssize_t platform_splice_out(struct platform_pipe *p, broker_fd to, size_t max)
{
	return splice_nb(p->r, to, max);
}
