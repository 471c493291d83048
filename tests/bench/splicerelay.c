/*
 * splicerelay - a minimal relay, the best-achievable reference for the
 * link benchmarks: one process, one epoll loop, and the bytes of every
 * connection moved from socket to socket by splice(2) through a pipe per
 * direction, never copied to user space and never looked at.
 *
 *   splicerelay LISTEN CONNECT [LISTEN CONNECT ...]
 *
 * Each accepted connection on LISTEN is relayed to a new connection to
 * CONNECT, both ways, with half-close passed on (EOF becomes shutdown
 * SHUT_WR once the pipe is empty) and a reset on either side closing both.
 * Two of these in a row are the two-hop chain tests/bench/link-load
 * compares two linked brokers against (a broker pair is two hops too).
 * ADDR: unix:PATH or tcp:HOST:PORT (numeric).  Runs until SIGTERM/SIGINT.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define PIPE_SIZE (256 * 1024)
#define MOVES_PER_EVENT 4           /* pipe fills per wakeup before the loop turns to others */
#define MAX_PAIRS 8

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int family;
};

struct conn;

/* One direction: src -> pipe -> dst. */
struct dir {
	int src, dst;
	int pipe[2];
	size_t inpipe;
	bool eof, shut;
};

/* What an fd's epoll data points at: a side of a connection (0 client, 1 target) or a listener. */
struct side {
	struct conn *c;                 /* NULL: a listener */
	int idx;                        /* listener: pair index */
	uint32_t events;                /* current epoll interest */
};

struct conn {
	struct conn *next_dead;         /* closed in this batch of events: freed after it */
	bool dead;
	int fd[2];
	struct dir d[2];                /* d[0]: client -> target, d[1]: target -> client */
	struct side side[2];
};

static int ep;
static struct conn *graveyard;
static struct addr targets[MAX_PAIRS];
static volatile sig_atomic_t stop;

static void die(const char *what)
{
	fprintf(stderr, "splicerelay: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void parse_addr(const char *s, struct addr *a)
{
	memset(a, 0, sizeof(*a));
	if (strncmp(s, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&a->ss;
		if (strlen(s + 5) >= sizeof(sun->sun_path)) {
			fprintf(stderr, "splicerelay: %s: path too long\n", s);
			exit(2);
		}
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, s + 5);
		a->len = sizeof(*sun);
		a->family = AF_UNIX;
		return;
	}
	const char *hp = s + 4, *colon = strrchr(s, ':');
	char host[128];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *ai;
	if (strncmp(s, "tcp:", 4) || !colon || colon < hp || (size_t)(colon - hp) >= sizeof(host)) {
		fprintf(stderr, "splicerelay: %s: want unix:PATH or tcp:HOST:PORT\n", s);
		exit(2);
	}
	memcpy(host, hp, (size_t)(colon - hp));
	host[colon - hp] = 0;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
		fprintf(stderr, "splicerelay: %s: not a numeric address\n", s);
		exit(2);
	}
	memcpy(&a->ss, ai->ai_addr, ai->ai_addrlen);
	a->len = ai->ai_addrlen;
	a->family = ai->ai_family;
	freeaddrinfo(ai);
}

static void set_interest(int fd, struct side *s, uint32_t want)
{
	if (want == s->events)
		return;
	struct epoll_event ev = { .events = want, .data.ptr = s };
	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0)
		die("epoll_ctl");
	s->events = want;
}

/* Close now; free after the current batch of events (another may still point at it). */
static void conn_close(struct conn *c)
{
	for (int i = 0; i < 2; i++) {
		close(c->fd[i]);
		close(c->d[i].pipe[0]);
		close(c->d[i].pipe[1]);
	}
	c->dead = true;
	c->next_dead = graveyard;
	graveyard = c;
}

/* Move what can be moved now; false when the connection failed (and was closed). */
static bool dir_pump(struct dir *d)
{
	for (int i = 0; i < MOVES_PER_EVENT; i++) {
		bool moved = false;
		if (!d->eof && d->inpipe < PIPE_SIZE) {
			ssize_t n = splice(d->src, NULL, d->pipe[1], NULL, PIPE_SIZE - d->inpipe,
			                   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (n > 0) {
				d->inpipe += (size_t)n;
				moved = true;
			} else if (n == 0) {
				d->eof = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				return false;
			}
		}
		if (d->inpipe > 0) {
			ssize_t n = splice(d->pipe[0], NULL, d->dst, NULL, d->inpipe, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (n > 0) {
				d->inpipe -= (size_t)n;
				moved = true;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				return false;
			}
		}
		if (!moved)
			break;
	}
	if (d->eof && d->inpipe == 0 && !d->shut) {
		shutdown(d->dst, SHUT_WR);
		d->shut = true;
	}
	return true;
}

/* Both directions moved as far as they can: set each fd's interest, or finish. */
static void conn_update(struct conn *c)
{
	if (c->d[0].shut && c->d[1].shut) {
		conn_close(c);
		return;
	}
	for (int i = 0; i < 2; i++) {
		/* fd[i] is the source of d[i] and the destination of d[1 - i]. */
		const struct dir *in = &c->d[i], *out = &c->d[1 - i];
		uint32_t want = 0;
		if (!in->eof && in->inpipe < PIPE_SIZE)
			want |= EPOLLIN;
		if (out->inpipe > 0)
			want |= EPOLLOUT;
		set_interest(c->fd[i], &c->side[i], want);
	}
}

static void conn_event(struct side *s)
{
	struct conn *c = s->c;

	if (c->dead)
		return;
	if (!dir_pump(&c->d[0]) || !dir_pump(&c->d[1])) {
		/* A reset on one side: pass it on as a reset. */
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		for (int i = 0; i < 2; i++)
			setsockopt(c->fd[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		conn_close(c);
		return;
	}
	conn_update(c);
}

static void on_accept(int lfd, int idx)
{
	for (int k = 0; k < 64; k++) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		if (cfd < 0)
			return;
		int tfd = socket(targets[idx].family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (tfd < 0 || connect(tfd, (struct sockaddr *)&targets[idx].ss, targets[idx].len) < 0) {
			if (tfd >= 0)
				close(tfd);
			close(cfd);
			continue;
		}
		fcntl(tfd, F_SETFL, O_NONBLOCK);
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = calloc(1, sizeof(*c));
		if (!c || pipe2(c->d[0].pipe, O_NONBLOCK | O_CLOEXEC) < 0 || pipe2(c->d[1].pipe, O_NONBLOCK | O_CLOEXEC) < 0)
			die("out of memory or pipes");
		fcntl(c->d[0].pipe[1], F_SETPIPE_SZ, PIPE_SIZE);
		fcntl(c->d[1].pipe[1], F_SETPIPE_SZ, PIPE_SIZE);
		c->fd[0] = cfd;
		c->fd[1] = tfd;
		c->d[0].src = cfd;
		c->d[0].dst = tfd;
		c->d[1].src = tfd;
		c->d[1].dst = cfd;
		for (int i = 0; i < 2; i++) {
			c->side[i].c = c;
			c->side[i].idx = i;
			c->side[i].events = EPOLLIN;
			struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->side[i] };
			if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd[i], &ev) < 0)
				die("epoll_ctl");
		}
	}
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct side listeners[MAX_PAIRS];
	int lfds[MAX_PAIRS], npairs = (argc - 1) / 2;

	if (argc < 3 || (argc - 1) % 2 || npairs > MAX_PAIRS) {
		fprintf(stderr, "usage: splicerelay LISTEN CONNECT [LISTEN CONNECT ...] (at most %d pairs)\n", MAX_PAIRS);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	for (int i = 0; i < npairs; i++) {
		struct addr la;
		int one = 1;

		parse_addr(argv[1 + 2 * i], &la);
		parse_addr(argv[2 + 2 * i], &targets[i]);
		if (la.family == AF_UNIX)
			unlink(((struct sockaddr_un *)&la.ss)->sun_path);
		lfds[i] = socket(la.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (lfds[i] < 0)
			die("socket");
		setsockopt(lfds[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lfds[i], (struct sockaddr *)&la.ss, la.len) < 0 || listen(lfds[i], 1024) < 0)
			die(argv[1 + 2 * i]);
		listeners[i] = (struct side){ .c = NULL, .idx = i, .events = EPOLLIN };
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listeners[i] };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, lfds[i], &ev) < 0)
			die("epoll_ctl");
	}
	while (!stop) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 1000);

		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			struct side *s = evs[i].data.ptr;
			if (!s->c)
				on_accept(lfds[s->idx], s->idx);
			else
				conn_event(s);
		}
		while (graveyard) {
			struct conn *c = graveyard;
			graveyard = c->next_dead;
			free(c);
		}
	}
	return 0;
}
