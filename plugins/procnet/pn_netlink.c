/*
 * plugins/procnet/pn_netlink.c - the procnet watcher's netlink sock_diag
 * dumps (see procnet.h): one inet_diag_req_v2 dump per family and protocol
 * (TCP in state LISTEN, UDP in state CLOSE), sent on a NETLINK_SOCK_DIAG
 * socket and read non-blocking from an event on the loop, at most 64
 * datagrams per wake-up.  A dump that fails falls back to /proc/net with
 * method=auto and aborts the scan otherwise.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>

#include <event2/event.h>

#include "procnet.h"

void pn_nl_close(struct pn_state *st)
{
	if (st->nl_ev) {
		event_free(st->nl_ev);
		st->nl_ev = NULL;
	}
	if (st->nl >= 0) {
		close(st->nl);
		st->nl = -1;
	}
	st->nl_gen++;
}

static void on_nl_read(evutil_socket_t fd, short what, void *arg);

int pn_nl_open(struct pn_state *st)
{
	struct sockaddr_nl sa;

	st->nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (st->nl < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	if (bind(st->nl, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		pn_nl_close(st);
		return -e;
	}
	st->nl_ev = event_new(pn_host->event_base(st->h), st->nl, EV_READ | EV_PERSIST, on_nl_read, st);
	if (!st->nl_ev || event_add(st->nl_ev, NULL) < 0) {
		pn_nl_close(st);
		return -ENOMEM;
	}
	return 0;
}

int pn_nl_request(struct pn_state *st, const struct pn_dump *d)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req;
	struct sockaddr_nl sa;
	ssize_t n;

	memset(&req, 0, sizeof(req));
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = ++st->nl_seq;
	req.r.sdiag_family = d->family;
	req.r.sdiag_protocol = d->proto == BROKER_PROTO_UDP ? IPPROTO_UDP : IPPROTO_TCP;
	req.r.idiag_states = d->proto == BROKER_PROTO_UDP ? 1u << PN_TCP_CLOSE : 1u << PN_TCP_LISTEN;
	do
		n = sendto(st->nl, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(req) ? 0 : -EIO;
}

int pn_nl_sock(const struct pn_dump *d, const struct nlmsghdr *nh, struct pn_sock *s)
{
	const struct inet_diag_msg *m = NLMSG_DATA(nh);
	const struct rtattr *a;
	static const uint8_t zero[16];
	int alen;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return 0;
	if (m->idiag_family != d->family)
		return 0;
	memset(s, 0, sizeof(*s));
	s->family = m->idiag_family;
	s->proto = d->proto;
	s->port = ntohs(m->id.idiag_sport);
	s->uid = m->idiag_uid;
	memcpy(s->addr, m->id.idiag_src, s->family == AF_INET ? 4 : 16);
	s->v6only = s->family == AF_INET6 ? -1 : 0;
	if (d->proto == BROKER_PROTO_TCP && m->idiag_state != PN_TCP_LISTEN)
		return 0;
	if (d->proto == BROKER_PROTO_UDP &&
	    (m->idiag_state != PN_TCP_CLOSE || m->id.idiag_dport != 0 ||
	     memcmp(m->id.idiag_dst, zero, s->family == AF_INET ? 4 : 16) != 0))
		return 0;
	alen = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));
	for (a = (const struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
		if (a->rta_type == INET_DIAG_SKV6ONLY && RTA_PAYLOAD(a) >= 1)
			s->v6only = *(const uint8_t *)RTA_DATA(a) ? 1 : 0;
	return 1;
}

/* One inet_diag_msg of the dump in progress. */
static void nl_take(struct pn_state *st, const struct pn_dump *d, const struct nlmsghdr *nh)
{
	struct pn_sock s;

	if (pn_nl_sock(d, nh, &s) == 1) {
		pn_sock_normalize(&s);
		pn_cur_add(st, &s);
	}
}

void pn_nl_failed(struct pn_state *st, int err)
{
	struct pn_dump *d = &st->dumps[st->dump];

	if (st->method == PN_AUTO) {
		pn_host->log(st->h, BROKER_LOG_INFO, "sock_diag %s%s: %s; reading %s/%s instead",
		          d->proto == BROKER_PROTO_UDP ? "udp" : "tcp", d->family == AF_INET6 ? "6" : "",
		          strerror(err), st->proc_dir, d->procfile);
		d->use_proc = 1;
		pn_scan_next(st);
		return;
	}
	pn_scan_abort(st, "netlink sock_diag failed", err);
}

static void on_nl_read(evutil_socket_t fd, short what, void *arg)
{
	struct pn_state *st = arg;
	static char buf[PN_NL_BUF] __attribute__((aligned(8)));
	unsigned gen = st->nl_gen;
	int rounds;

	(void)what;
	/* Bounded: at most 64 datagrams per wake-up, the rest on the next one. */
	for (rounds = 0; rounds < 64; rounds++) {
		struct sockaddr_nl from;
		socklen_t fl = sizeof(from);
		struct nlmsghdr *nh;
		ssize_t n;
		int len;

		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			if (st->scanning)
				pn_nl_failed(st, errno);
			return;
		}
		if (n == 0)
			return;
		if (!st->scanning || from.nl_pid != 0)
			continue;  /* a late answer to an aborted scan, or not the kernel */
		len = (int)n;
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (unsigned)len); nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_seq != st->nl_seq)
				continue;
			if (nh->nlmsg_type == NLMSG_DONE) {
				st->dump++;
				pn_scan_next(st);
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);
				int code = nh->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error < 0 ?
				           -e->error : EIO;

				pn_nl_failed(st, code);
				break;
			}
			if (nh->nlmsg_type == SOCK_DIAG_BY_FAMILY)
				nl_take(st, &st->dumps[st->dump], nh);
		}
		/* The socket was closed (scan aborted) or the scan ended: stop here. */
		if (st->nl_gen != gen || !st->scanning)
			return;
	}
}

