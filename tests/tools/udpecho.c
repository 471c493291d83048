/*
 * udpecho - UDP helper for the mapping integration tests.
 *
 *   udpecho serve ADDR [--ready FILE] [--lifetime S]
 *       Bind a UDP socket on ADDR and send every datagram (0 to 65535 bytes)
 *       back to its sender, unchanged.  Writes the bound address
 *       ("HOST:PORT", "[V6]:PORT") to FILE once bound; exits after S seconds
 *       (default 600).
 *   udpecho check ADDR SIZE... [--timeout S] [--wait-ms MS]
 *       For each SIZE (bytes, 0 to 65507), send one datagram of that size to
 *       ADDR and wait for the identical datagram to come back; resend after
 *       MS milliseconds without an answer (default 300), give up after S
 *       seconds in total (default 10).  Prints "ok SIZE TRIES" per size.
 *   udpecho free-port [--ipv6]
 *       Print a loopback UDP port that is free right now.
 *
 * ADDR: HOST:PORT or [V6]:PORT, with an optional udp:// or udp: prefix.
 * Payloads carry a 4-byte sequence number (sizes >= 4) so late answers to an
 * earlier send are told apart from the one being waited for.
 * Exit status: 0 success, 1 failure (reason on stderr), 2 usage.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DGRAM 65535
#define MAX_SEND 65507

static void die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("udpecho: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Parse HOST:PORT / [V6]:PORT (optionally udp:// or udp:) into ss. */
static void parse_addr(const char *in, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	const char *s = in, *colon;
	struct addrinfo hints, *res = NULL;
	int rc;

	if (!strncmp(s, "udp://", 6))
		s += 6;
	else if (!strncmp(s, "udp:", 4))
		s += 4;
	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host))
			die(2, "bad address '%s' (want [V6]:PORT)", in);
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			die(2, "bad address '%s' (want HOST:PORT)", in);
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
	if (rc || !res)
		die(2, "bad address '%s': %s", in, rc ? gai_strerror(rc) : "no result");
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
}

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(out, len, "[%s]:%u", host, ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(out, len, "%s:%u", host, ntohs(a->sin_port));
	}
}

static int serve(const char *addr, const char *ready, unsigned lifetime)
{
	struct sockaddr_storage ss, peer;
	socklen_t len, plen;
	static uint8_t buf[MAX_DGRAM];
	char bound[128];
	uint64_t end = now_ms() + (uint64_t)lifetime * 1000u;
	int fd, one = 1;

	parse_addr(addr, &ss, &len);
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0)
		die(1, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		die(1, "bind %s: %s", addr, strerror(errno));
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	format_addr(&ss, bound, sizeof(bound));
	if (ready) {
		char tmp[4096];
		FILE *f;
		snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
		if (!(f = fopen(tmp, "w")) || fprintf(f, "%s\n", bound) < 0 || fclose(f) != 0 || rename(tmp, ready) < 0)
			die(1, "cannot write %s: %s", ready, strerror(errno));
	}
	for (;;) {
		uint64_t now = now_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (now >= end)
			return 0;
		if (poll(&p, 1, (int)(end - now > 1000 ? 1000 : end - now)) <= 0)
			continue;
		plen = sizeof(peer);
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);
		if (n < 0)
			continue;
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, plen);
	}
}

static void fill(uint8_t *p, size_t size, uint32_t seq)
{
	uint32_t x = seq * 2654435761u + (uint32_t)size;

	for (size_t i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
	if (size >= 4) {
		p[0] = (uint8_t)(seq >> 24);
		p[1] = (uint8_t)(seq >> 16);
		p[2] = (uint8_t)(seq >> 8);
		p[3] = (uint8_t)seq;
	}
}

static int check(const char *addr, char **sizes, int nsizes, unsigned timeout, unsigned wait_ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	static uint8_t out[MAX_SEND], in[MAX_DGRAM];
	uint64_t deadline = now_ms() + (uint64_t)timeout * 1000u;
	uint32_t seq = (uint32_t)getpid() << 12;
	int fd, rcvbuf = 4 << 20;

	parse_addr(addr, &ss, &len);
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0)
		die(1, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (connect(fd, (struct sockaddr *)&ss, len) < 0)
		die(1, "connect %s: %s", addr, strerror(errno));
	for (int i = 0; i < nsizes; i++) {
		char *end;
		unsigned long size = strtoul(sizes[i], &end, 10);
		unsigned tries = 0;
		int done = 0;

		if (*end || end == sizes[i] || size > MAX_SEND)
			die(2, "bad size '%s' (0 to %d)", sizes[i], MAX_SEND);
		seq++;
		fill(out, size, seq);
		while (!done) {
			uint64_t now = now_ms(), until;
			if (now >= deadline)
				die(1, "%s: no identical echo of a %lu-byte datagram within %u s (%u sends)", addr, size,
				    timeout, tries);
			/* ECONNREFUSED from an earlier ICMP error: count it as a lost try. */
			if (send(fd, out, size, 0) < 0 && errno != ECONNREFUSED)
				die(1, "send %lu bytes to %s: %s", size, addr, strerror(errno));
			tries++;
			until = now + wait_ms;
			if (until > deadline)
				until = deadline;
			while (!done && (now = now_ms()) < until) {
				struct pollfd p = { .fd = fd, .events = POLLIN };
				ssize_t n;
				if (poll(&p, 1, (int)(until - now)) <= 0)
					continue;
				n = recv(fd, in, sizeof(in), 0);
				if (n < 0) {
					if (errno == ECONNREFUSED || errno == EINTR)
						continue;
					die(1, "recv from %s: %s", addr, strerror(errno));
				}
				if ((size_t)n == size && memcmp(in, out, size) == 0)
					done = 1;
				else if ((size_t)n == size && size >= 4 && memcmp(in, out, 4) != 0)
					continue; /* a late answer to an earlier size */
				else if ((size_t)n == size && size >= 4)
					die(1, "%s: the %lu-byte datagram came back altered", addr, size);
			}
		}
		printf("ok %lu %u\n", size, tries);
		fflush(stdout);
	}
	close(fd);
	return 0;
}

static int free_port(int ipv6)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (ipv6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, ipv6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		die(1, "free-port: %s", strerror(errno));
	printf("%u\n", ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                               : ((struct sockaddr_in *)&ss)->sin_port));
	close(fd);
	return 0;
}

static void usage(void)
{
	fputs("usage: udpecho serve ADDR [--ready FILE] [--lifetime S]\n"
	      "       udpecho check ADDR SIZE... [--timeout S] [--wait-ms MS]\n"
	      "       udpecho free-port [--ipv6]\n",
	      stderr);
	exit(2);
}

static unsigned number(const char *s, const char *what)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v > 100000000ul)
		die(2, "bad %s '%s'", what, s);
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	const char *ready = NULL;
	unsigned lifetime = 600, timeout = 10, wait_ms = 300;
	int ipv6 = 0, npos = 0;
	char **pos;

	if (argc < 2)
		usage();
	pos = calloc((size_t)argc, sizeof(*pos));
	if (!pos)
		die(1, "out of memory");
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--ready") && i + 1 < argc)
			ready = argv[++i];
		else if (!strcmp(a, "--lifetime") && i + 1 < argc)
			lifetime = number(argv[++i], "lifetime");
		else if (!strcmp(a, "--timeout") && i + 1 < argc)
			timeout = number(argv[++i], "timeout");
		else if (!strcmp(a, "--wait-ms") && i + 1 < argc)
			wait_ms = number(argv[++i], "wait-ms");
		else if (!strcmp(a, "--ipv6"))
			ipv6 = 1;
		else if (a[0] == '-' && a[1] == '-')
			usage();
		else
			pos[npos++] = argv[i];
	}
	int rc = -1;
	if (!strcmp(argv[1], "serve") && npos == 1)
		rc = serve(pos[0], ready, lifetime);
	else if (!strcmp(argv[1], "check") && npos >= 2)
		rc = check(pos[0], pos + 1, npos - 1, timeout, wait_ms ? wait_ms : 1);
	else if (!strcmp(argv[1], "free-port") && npos == 0)
		rc = free_port(ipv6);
	free(pos);
	if (rc < 0)
		usage();
	return rc;
}
