/*
 * mapping_bench - timing probes for tests/bench/mapping_bench (the mapping
 * benchmark).  Linux only (netlink sock_diag, /proc).
 *
 *   mapping_bench accept-latency PID HOST PORT TIMEOUT_MS
 *       Send SIGHUP to PID, then try to connect to HOST:PORT every 1 ms until
 *       a connection is accepted; print the microseconds from the signal to
 *       the accepted connect.  Exit 1 (and print "timeout") after TIMEOUT_MS.
 *   mapping_bench wait-listen LO HI COUNT TIMEOUT_MS T0_NS [PID]
 *       Poll (every 2 ms) the number of listening TCP sockets whose local port
 *       is in [LO, HI] until it reaches COUNT; T0_NS is a CLOCK_REALTIME
 *       timestamp in nanoseconds (date +%s%N) taken when the clock started.
 *       Prints "ms=M count=N first_ms=F rss_first_kb=R rss_kb=S": M from T0
 *       until COUNT was reached, F until the first one was seen, and (with
 *       PID) that process's VmRSS at the first poll and at the end.  Exit 1
 *       on timeout (the line then holds the last count).
 *   mapping_bench wait-log FILE OFFSET TEXT TIMEOUT_MS T0_NS
 *       Poll FILE from byte OFFSET until a line containing TEXT appears;
 *       print "ms=M" from T0.  Exit 1 on timeout.
 *   mapping_bench count-listen LO HI
 *       Print the number of listening TCP sockets with a port in [LO, HI].
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#define TCP_LISTEN_STATE 10

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static long num(const char *s, const char *what)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (!*s || *end || v < 0) {
		fprintf(stderr, "mapping_bench: bad %s '%s'\n", what, s);
		exit(2);
	}
	return (long)v;
}

/* ------------------------------------------------------------ accept-latency */

static int accept_latency(pid_t pid, const char *host, int port, long timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	uint64_t t0, deadline, next;

	memset(&ss, 0, sizeof(ss));
	if (strchr(host, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return 2;
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return 2;
		len = sizeof(*a);
	}
	t0 = mono_ns();
	if (kill(pid, SIGHUP) < 0) {
		fprintf(stderr, "mapping_bench: kill %d: %s\n", (int)pid, strerror(errno));
		return 1;
	}
	deadline = t0 + (uint64_t)timeout_ms * 1000000u;
	for (next = t0;; next += 1000000u) {
		int fd = socket(ss.ss_family, SOCK_STREAM, 0);
		uint64_t now;
		if (fd < 0) {
			perror("socket");
			return 1;
		}
		if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
			now = mono_ns();
			close(fd);
			printf("%llu\n", (unsigned long long)((now - t0) / 1000u));
			return 0;
		}
		close(fd);
		now = mono_ns();
		if (now >= deadline) {
			printf("timeout\n");
			return 1;
		}
		while (next + 1000000u <= now)
			next += 1000000u;
		if (next + 1000000u > now)
			sleep_us((long)((next + 1000000u - now) / 1000u));
	}
}

/* ------------------------------------------------------------ counting listeners */

/* Count listening TCP sockets with lo <= port <= hi through sock_diag; -1 if unavailable. */
static long count_diag(int family, int lo, int hi)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg;
	static char buf[1 << 16];
	long n = 0;

	if (fd < 0)
		return -1;
	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.req.sdiag_family = (uint8_t)family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states = 1u << TCP_LISTEN_STATE;
	if (send(fd, &msg, sizeof(msg), 0) < 0) {
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r <= 0) {
			close(fd);
			return -1;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)r); h = NLMSG_NEXT(h, r)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				close(fd);
				return n;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				close(fd);
				return -1;
			}
			struct inet_diag_msg *d = NLMSG_DATA(h);
			int port = ntohs(d->id.idiag_sport);
			if (port >= lo && port <= hi)
				n++;
		}
	}
}

/* Fallback: /proc/net/tcp{,6}, state 0A. */
static long count_proc(int lo, int hi)
{
	const char *files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	char line[512];
	long n = 0;

	for (size_t i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char local[80];
			unsigned st;
			if (sscanf(line, " %*d: %79s %*s %x", local, &st) != 2 || st != 0x0A)
				continue;
			char *c = strrchr(local, ':');
			if (!c)
				continue;
			int port = (int)strtol(c + 1, NULL, 16);
			if (port >= lo && port <= hi)
				n++;
		}
		fclose(f);
	}
	return n;
}

static long count_listen(int lo, int hi)
{
	long a = count_diag(AF_INET, lo, hi), b;

	if (a < 0)
		return count_proc(lo, hi);
	b = count_diag(AF_INET6, lo, hi);
	return a + (b > 0 ? b : 0);
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

static int wait_listen(int lo, int hi, long want, long timeout_ms, uint64_t t0_real, pid_t pid)
{
	/* Convert the shell's wall-clock start to the monotonic clock once. */
	uint64_t off = real_ns() - mono_ns();
	uint64_t t0 = t0_real - off, deadline = mono_ns() + (uint64_t)timeout_ms * 1000000u;
	long n = 0, rss_first = rss_kb(pid);
	double first_ms = -1;

	for (;;) {
		uint64_t now;
		n = count_listen(lo, hi);
		now = mono_ns();
		if (n > 0 && first_ms < 0)
			first_ms = (double)(now - t0) / 1e6;
		if (n >= want) {
			printf("ms=%.1f count=%ld first_ms=%.1f rss_first_kb=%ld rss_kb=%ld\n", (double)(now - t0) / 1e6, n,
			       first_ms, rss_first, rss_kb(pid));
			return 0;
		}
		if (now >= deadline) {
			printf("ms=timeout count=%ld first_ms=%.1f rss_first_kb=%ld rss_kb=%ld\n", n, first_ms, rss_first,
			       rss_kb(pid));
			return 1;
		}
		sleep_us(2000);
	}
}

/* ------------------------------------------------------------ wait-log */

static int wait_log(const char *path, long offset, const char *text, long timeout_ms, uint64_t t0_real)
{
	uint64_t off = real_ns() - mono_ns();
	uint64_t t0 = t0_real - off, deadline = mono_ns() + (uint64_t)timeout_ms * 1000000u;
	char line[4096];

	for (;;) {
		FILE *f = fopen(path, "r");
		uint64_t now;
		if (f) {
			if (fseek(f, offset, SEEK_SET) == 0)
				while (fgets(line, sizeof(line), f)) {
					size_t l = strlen(line);
					if (l && line[l - 1] != '\n')
						break; /* a partial line: read it again next time */
					offset += (long)l;
					if (strstr(line, text)) {
						now = mono_ns();
						fclose(f);
						printf("ms=%.1f\n", (double)(now - t0) / 1e6);
						return 0;
					}
				}
			fclose(f);
		}
		now = mono_ns();
		if (now >= deadline) {
			printf("ms=timeout\n");
			return 1;
		}
		sleep_us(2000);
	}
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "accept-latency"))
		return accept_latency((pid_t)num(argv[2], "pid"), argv[3], (int)num(argv[4], "port"),
		                      num(argv[5], "timeout"));
	if ((argc == 7 || argc == 8) && !strcmp(argv[1], "wait-listen"))
		return wait_listen((int)num(argv[2], "port"), (int)num(argv[3], "port"), num(argv[4], "count"),
		                   num(argv[5], "timeout"), (uint64_t)strtoull(argv[6], NULL, 10),
		                   argc == 8 ? (pid_t)num(argv[7], "pid") : 0);
	if (argc == 7 && !strcmp(argv[1], "wait-log"))
		return wait_log(argv[2], num(argv[3], "offset"), argv[4], num(argv[5], "timeout"),
		                (uint64_t)strtoull(argv[6], NULL, 10));
	if (argc == 4 && !strcmp(argv[1], "count-listen")) {
		printf("%ld\n", count_listen((int)num(argv[2], "port"), (int)num(argv[3], "port")));
		return 0;
	}
	fprintf(stderr, "usage: mapping_bench accept-latency PID HOST PORT TIMEOUT_MS\n"
	                "       mapping_bench wait-listen LO HI COUNT TIMEOUT_MS T0_NS [PID]\n"
	                "       mapping_bench wait-log FILE OFFSET TEXT TIMEOUT_MS T0_NS\n"
	                "       mapping_bench count-listen LO HI\n");
	return 2;
}
