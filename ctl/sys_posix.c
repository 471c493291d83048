/* sys_posix.c - brokerctl's OS calls on POSIX (see brokerctl.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl/brokerctl.h"

void ctl_catch_stop_signals(void (*handler)(int sig))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

char *ctl_absolute_path(const char *path)
{
	return path[0] == '/' ? NULL : realpath(path, NULL);
}

int ctl_docker_endpoint(const char *runtime_dir, const char *name, char *url, size_t len, bool *needs_context)
{
	struct sockaddr_un sun;
	int n = snprintf(url, len, "unix://%s/%s.sock", runtime_dir, name);

	*needs_context = true;
	if (n < 0 || (size_t)n >= len || strlen(url) - 7 >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events or the deadline passes: 1 ready, 0 timed out, -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int r;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return 0;
		r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return -errno;
	}
}

int ctl_endpoint_exchange(const char *url, const char *request, char *reply, size_t cap, size_t *got,
                          int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int64_t deadline = now_ms() + timeout_ms;
	size_t sent = 0, want = strlen(request);
	int fd, r = 0, soerr = 0;
	socklen_t sl = sizeof(soerr);

	*got = 0;
	if (strncmp(url, "unix://", 7) != 0 || strlen(url + 7) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: not a unix:// socket this brokerctl can reach", url);
		return -EINVAL;
	}
	memcpy(sun.sun_path, url + 7, strlen(url + 7) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return r;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			r = -errno;
			snprintf(err, errlen, "%s: %s", url + 7, strerror(errno));
			goto out;
		}
		if ((r = wait_fd(fd, POLLOUT, deadline)) <= 0 ||
		    (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)) {
			r = r < 0 ? r : r == 0 ? -ETIMEDOUT : -soerr;
			snprintf(err, errlen, "%s: %s", url + 7, strerror(-r));
			goto out;
		}
	}
	while (sent < want) {
		ssize_t n = send(fd, request + sent, want - sent, MSG_NOSIGNAL);

		if (n > 0) {
			sent += (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if ((r = wait_fd(fd, POLLOUT, deadline)) <= 0)
				goto timed_out;
		} else if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			r = 0;   /* closed before it read the request: the same as no answer */
			goto out;
		} else {
			r = -errno;
			snprintf(err, errlen, "%s: write: %s", url + 7, strerror(errno));
			goto out;
		}
	}
	while (*got < cap) {
		ssize_t n = recv(fd, reply + *got, cap - *got, 0);

		if (n > 0) {
			*got += (size_t)n;
		} else if (n == 0) {
			break;
		} else if (errno == EAGAIN || errno == EINTR) {
			if ((r = wait_fd(fd, POLLIN, deadline)) <= 0)
				goto timed_out;
		} else if (errno == ECONNRESET) {
			break;   /* the broker resets a stream the peer refused: same as no answer */
		} else {
			r = -errno;
			snprintf(err, errlen, "%s: read: %s", url + 7, strerror(errno));
			goto out;
		}
	}
	r = 0;
	goto out;
timed_out:
	r = r < 0 ? r : -ETIMEDOUT;
	snprintf(err, errlen, "%s: no answer within %d ms", url + 7, timeout_ms);
out:
	close(fd);
	return r;
}

bool ctl_program_on_path(const char *program)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (!path || !*path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		struct stat st;

		if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)(n ? n : 1), n ? path : ".", program) <
		            (int)sizeof(buf) &&
		    stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
			return true;
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

int ctl_run(char *const argv[], char *out, size_t cap, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	size_t got = 0;
	int fds[2], status = 0, r;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	if ((pid = fork()) < 0) {
		r = -errno;
		close(fds[0]);
		close(fds[1]);
		return r;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		char sink[512];
		char *dst = got + 1 < cap ? out + got : sink;
		size_t room = got + 1 < cap ? cap - 1 - got : sizeof(sink);
		ssize_t n;

		if ((r = wait_fd(fds[0], POLLIN, deadline)) <= 0)
			break;
		n = read(fds[0], dst, room);
		if (n > 0 && dst != sink)
			got += (size_t)n;
		else if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	close(fds[0]);
	if (cap)
		out[got < cap ? got : cap - 1] = '\0';
	if (r == 0)   /* timed out: it had its time */
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r == 0)
		return -ETIMEDOUT;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
