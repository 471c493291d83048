/* portwait.c - time how long a loopback TCP port takes to start (or stop)
 * accepting connections, optionally around a command.  Benchmark helper for
 * tests/bench/docker_propagation; not installed.
 *
 *   portwait --open|--closed -p PORT [-H 127.0.0.1] [--deadline MS]
 *            [--interval US] [--child-out FILE] [--child-timeout MS]
 *            [-- COMMAND ARGS...]
 *
 * With a COMMAND, portwait starts it, polls the port while it runs and after
 * it exits, and reports three wall-clock instants (CLOCK_REALTIME, in
 * microseconds since the epoch, so they compare with other processes' logs):
 *   t_start   just before the command was started
 *   t_return  when waitpid() saw it exit (the "docker run returned" instant)
 *   t_change  the first poll that saw the wanted state
 * and the delays from_return_us = t_change - t_return (negative when the
 * change came before the command returned) and from_start_us.  Without a
 * COMMAND, t_start = t_return = the moment polling began.
 *
 * --open: a connect() to HOST:PORT succeeds.  A refused connect on loopback is
 *   a SYN and a RST in the kernel, so polling every 200 us costs nothing.
 * --closed: no TCP listener on HOST:PORT, found with a NETLINK_SOCK_DIAG dump
 *   of listening sockets (no connection is made, so the polled broker is not
 *   made to forward a connection per poll while the port is still open), then
 *   confirmed by one connect() that is refused; an accepted confirmation
 *   connection is closed and polling goes on.
 *
 * Output: one line of key=value pairs on stdout.  Exit status: 0 the state
 * was reached, 1 the deadline passed first (timeout=1 in the line), 2 usage
 * or system error.  The command's exit status is reported (rc=), not
 * propagated.  Every loop is bounded by the deadline; the command is killed
 * (SIGKILL, by pid) if it outlives --child-timeout. */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TCP_LISTEN_STATE
#define TCP_LISTEN_STATE 10 /* TCP_LISTEN in the kernel's enum */
#endif

static int64_t now_us(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void usage(void)
{
	fprintf(stderr, "usage: portwait --open|--closed -p PORT [-H IPV4] [--deadline MS] [--interval US]\n"
	                "                [--child-out FILE] [--child-timeout MS] [-- COMMAND ARGS...]\n");
	exit(2);
}

/* 1: a connection was accepted (and closed at once), 0: refused or not
 * answered within timeout_ms, -1: a local error. */
static int try_connect(const struct sockaddr_in *sa, int timeout_ms)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc = 0;

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
		rc = 1;
	} else if (errno == EINPROGRESS) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int err = 0;
		socklen_t len = sizeof(err);

		if (poll(&p, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
			rc = 1;
	} else if (errno != ECONNREFUSED && errno != ECONNRESET && errno != ETIMEDOUT) {
		rc = -1;
	}
	/* A reset instead of a FIN, so no TIME_WAIT piles up on the port. */
	if (rc == 1) {
		struct linger lg = { 1, 0 };
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(fd);
	return rc;
}

/* 1: a TCP listener on addr:port exists (IPv4 table), 0: none, -1: error. */
static int diag_listening(int nl, const struct in_addr *addr, uint16_t port)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req;
	static char buf[32768];
	int found = 0;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.r.sdiag_family = AF_INET;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = 1u << TCP_LISTEN_STATE;
	if (send(nl, &req, sizeof(req), 0) < 0)
		return -1;
	/* A dump ends with NLMSG_DONE; bounded by the number of listeners. */
	for (int rounds = 0; rounds < 100000; rounds++) {
		ssize_t n = recv(nl, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			const struct inet_diag_msg *m;

			if (h->nlmsg_type == NLMSG_DONE)
				return found;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -1;
			m = NLMSG_DATA(h);
			if (m->id.idiag_sport == htons(port) &&
			    (m->id.idiag_src[0] == addr->s_addr || m->id.idiag_src[0] == htonl(INADDR_ANY)))
				found = 1;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *child_out = "/dev/null";
	long port = 0, deadline_ms = 10000, interval_us = 200, child_timeout_ms = 60000;
	int want_open = -1, nl = -1, polls = 0, state = 0, status = 0;
	char **cmd = NULL;
	struct sockaddr_in sa;
	pid_t child = -1;
	int64_t t_start, t_return = 0, t_change = 0, mono_start, mono_deadline, mono_child_kill;
	bool exited = false, timed_out = false, killed = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--")) {
			cmd = argv + i + 1;
			if (!*cmd)
				usage();
			break;
		} else if (!strcmp(a, "--open")) {
			want_open = 1;
		} else if (!strcmp(a, "--closed")) {
			want_open = 0;
		} else if (!v) {
			usage();
		} else if (!strcmp(a, "-p")) {
			port = strtol(v, NULL, 10), i++;
		} else if (!strcmp(a, "-H")) {
			host = v, i++;
		} else if (!strcmp(a, "--deadline")) {
			deadline_ms = strtol(v, NULL, 10), i++;
		} else if (!strcmp(a, "--interval")) {
			interval_us = strtol(v, NULL, 10), i++;
		} else if (!strcmp(a, "--child-out")) {
			child_out = v, i++;
		} else if (!strcmp(a, "--child-timeout")) {
			child_timeout_ms = strtol(v, NULL, 10), i++;
		} else {
			usage();
		}
	}
	if (want_open < 0 || port < 1 || port > 65535 || deadline_ms < 1 || deadline_ms > 3600000 ||
	    interval_us < 10 || interval_us > 1000000 || child_timeout_ms < 1)
		usage();
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "portwait: %s is not an IPv4 address\n", host);
		return 2;
	}
	if (!want_open) {
		nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		if (nl < 0) {
			perror("portwait: NETLINK_SOCK_DIAG");
			return 2;
		}
	}

	mono_start = now_us(CLOCK_MONOTONIC);
	t_start = now_us(CLOCK_REALTIME);
	mono_deadline = mono_start + deadline_ms * 1000;
	mono_child_kill = mono_start + child_timeout_ms * 1000;
	if (cmd) {
		child = fork();
		if (child < 0) {
			perror("portwait: fork");
			return 2;
		}
		if (child == 0) {
			int fd = open(child_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

			if (fd < 0 || dup2(fd, 1) < 0)
				_exit(126);
			execvp(cmd[0], cmd);
			_exit(127);
		}
	} else {
		exited = true;
		t_return = t_start;
	}

	/* Poll until the state is reached AND the command has returned (both
	 * instants are wanted), or the deadline passes. */
	for (;;) {
		int64_t mono = now_us(CLOCK_MONOTONIC);

		if (!exited) {
			pid_t w = waitpid(child, &status, WNOHANG);

			if (w == child) {
				t_return = now_us(CLOCK_REALTIME);
				exited = true;
			} else if (w < 0 && errno != EINTR) {
				perror("portwait: waitpid");
				return 2;
			} else if (mono >= mono_child_kill && !killed) {
				kill(child, SIGKILL);
				killed = true;
			}
		}
		if (!state) {
			int r;

			if (want_open) {
				r = try_connect(&sa, 50);
			} else {
				r = diag_listening(nl, &sa.sin_addr, (uint16_t)port);
				if (r == 0) /* confirm: a connect must be refused */
					r = try_connect(&sa, 50);
				r = r < 0 ? -1 : !r;
			}
			polls++;
			if (r < 0) {
				perror("portwait: poll");
				return 2;
			}
			if (r == 1) {
				t_change = now_us(CLOCK_REALTIME);
				state = 1;
			}
		}
		if (state && exited)
			break;
		if (mono >= mono_deadline) {
			timed_out = true;
			break;
		}
		/* Once the state is reached only the child is awaited: poll waitpid every 200 us. */
		struct timespec ts = { 0, (state ? 200 : interval_us) * 1000L };
		nanosleep(&ts, NULL);
	}
	if (!exited) { /* deadline: do not leave the command behind */
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		t_return = now_us(CLOCK_REALTIME);
		killed = true;
	}
	if (nl >= 0)
		close(nl);

	printf("t_start=%lld t_return=%lld t_change=%lld", (long long)t_start, (long long)t_return,
	       (long long)(state ? t_change : 0));
	if (state)
		printf(" from_return_us=%lld from_start_us=%lld", (long long)(t_change - t_return),
		       (long long)(t_change - t_start));
	printf(" polls=%d rc=%d timeout=%d killed=%d\n", polls,
	       child < 0 ? 0 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), timed_out ? 1 : 0,
	       killed ? 1 : 0);
	return state ? 0 : 1;
}
