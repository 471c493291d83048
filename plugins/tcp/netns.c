/* netns.c - see netns.h.  The loop is single-threaded, so switching the
 * thread's namespace around one socket() call affects nothing else. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netns.h"

#if defined(__linux__)
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

int netns_enter(const char *spec, int *saved, char *err, size_t errlen)
{
	char path[300];
	int fd, e;

	if (!strncmp(spec, "pid:", 4))
		snprintf(path, sizeof(path), "/proc/%s/ns/net", spec + 4);
	else if (spec[0] == '/')
		snprintf(path, sizeof(path), "%s", spec);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", spec);
	*saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved < 0) {
		snprintf(err, errlen, "netns: cannot open our own namespace: %s", strerror(errno));
		return -errno;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		close(*saved);
		snprintf(err, errlen, "netns %s: %s", path, strerror(e));
		return -e;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		e = errno;
		close(fd);
		close(*saved);
		snprintf(err, errlen, "netns %s: cannot enter: %s%s", path, strerror(e),
		         e == EPERM ? " (needs root or CAP_SYS_ADMIN)" : "");
		return -e;
	}
	close(fd);
	return 0;
}

void netns_leave(int saved)
{
	if (saved < 0)
		return;
	/* Failing to come back would leave the whole broker in the wrong namespace. */
	if (setns(saved, CLONE_NEWNET) < 0)
		perror("tcp: cannot return to the broker's network namespace");
	close(saved);
}

#else

int netns_enter(const char *spec, int *saved, char *err, size_t errlen)
{
	*saved = -1;
	snprintf(err, errlen, "netns=%s: network namespaces exist only on Linux", spec);
	return -EOPNOTSUPP;
}

void netns_leave(int saved)
{
	(void)saved;
}

#endif
