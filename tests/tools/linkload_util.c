/*
 * linkload_util.c - addresses, sockets, the clock and the byte generator
 * of linkload.
 *
 * Every flow's bytes are a function of its key and the offset (splitmix64 of
 * key + word index), so a receiver checks any piece it reads without state
 * beyond its offset, whatever sizes the sender wrote them in: a byte lost,
 * repeated, reordered or taken from another stream shows as a mismatch at
 * its exact offset.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "linkload.h"

void ll_die(const char *fmt, ...)
{
	va_list ap;

	fputs("linkload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

uint64_t ll_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t ll_parse_size(const char *s, const char *what)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		ll_die("%s: not a number: '%s'", what, s);
	if (*end == 'K' || *end == 'k')
		mult = 1024, end++;
	else if (*end == 'M' || *end == 'm')
		mult = 1024 * 1024, end++;
	else if (*end == 'G' || *end == 'g')
		mult = 1024ull * 1024 * 1024, end++;
	if (*end)
		ll_die("%s: not a number: '%s' (want digits and an optional K, M or G)", what, s);
	return (uint64_t)v * mult;
}

void ll_parse_addr(const char *s, struct ll_addr *a)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *res;
	const char *rest, *colon;
	char host[256];
	size_t n;
	int rc;

	memset(a, 0, sizeof(*a));
	snprintf(a->text, sizeof(a->text), "%s", s);
	if (strncmp(s, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&a->ss;

		rest = s + 5;
		if (strncmp(rest, "//", 2) == 0)
			rest += 2;
		n = strlen(rest);
		if (n == 0 || n >= sizeof(sun->sun_path))
			ll_die("%s: empty or too long Unix socket path", s);
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, rest, n);
		a->len = (socklen_t)sizeof(*sun);
		a->family = AF_UNIX;
		return;
	}
	if (strncmp(s, "tcp:", 4) != 0)
		ll_die("%s: an address is unix:PATH or tcp:HOST:PORT", s);
	rest = s + 4;
	if (strncmp(rest, "//", 2) == 0)
		rest += 2;
	colon = strrchr(rest, ':');
	if (!colon)
		ll_die("%s: missing port (want tcp:HOST:PORT)", s);
	n = (size_t)(colon - rest);
	if (n >= 2 && rest[0] == '[' && rest[n - 1] == ']') {
		rest++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(host))
		ll_die("%s: bad host", s);
	memcpy(host, rest, n);
	host[n] = 0;
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0)
		ll_die("%s: %s (the host must be numeric)", s, gai_strerror(rc));
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	a->family = res->ai_family;
	freeaddrinfo(res);
}

void ll_set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK)) < 0)
		ll_die("fcntl: %s", strerror(errno));
}

int ll_listen(const struct ll_addr *a)
{
	int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		ll_die("socket: %s", strerror(errno));
	if (a->family == AF_UNIX) {
		const char *path = ((const struct sockaddr_un *)&a->ss)->sun_path;
		struct stat st;

		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(path);
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
		ll_die("bind %s: %s", a->text, strerror(errno));
	if (listen(fd, 1024) < 0)
		ll_die("listen %s: %s", a->text, strerror(errno));
	ll_set_nonblock(fd, true);
	return fd;
}

int ll_connect(const struct ll_addr *a)
{
	int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1, e;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	if (a->family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ll_set_nonblock(fd, true);
	return fd;
}

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t ll_rand(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ull;
	return mix64(*state);
}

uint64_t ll_rand_log(uint64_t *state, uint64_t lo, uint64_t hi)
{
	double u = (double)(ll_rand(state) >> 11) / 9007199254740992.0;
	double v = exp(log((double)lo) + u * (log((double)hi + 1) - log((double)lo)));
	uint64_t x = (uint64_t)v;

	return x < lo ? lo : x > hi ? hi : x;
}

void ll_fill(uint64_t key, uint64_t off, uint8_t *buf, size_t len)
{
	uint64_t w = off / 8;
	size_t skip = (size_t)(off % 8);

	if (skip) {
		uint64_t v = htole64(mix64(key + w * 0x9e3779b97f4a7c15ull));
		size_t n = 8 - skip < len ? 8 - skip : len;

		memcpy(buf, (uint8_t *)&v + skip, n);
		buf += n;
		len -= n;
		w++;
	}
	for (; len >= 8; len -= 8, buf += 8, w++) {
		uint64_t v = htole64(mix64(key + w * 0x9e3779b97f4a7c15ull));
		memcpy(buf, &v, 8);
	}
	if (len) {
		uint64_t v = htole64(mix64(key + w * 0x9e3779b97f4a7c15ull));
		memcpy(buf, &v, len);
	}
}

size_t ll_check(uint64_t key, uint64_t off, const uint8_t *buf, size_t len, uint8_t *scratch)
{
	ll_fill(key, off, scratch, len);
	if (memcmp(scratch, buf, len) == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (scratch[i] != buf[i])
			return i + 1;
	return 0;
}
