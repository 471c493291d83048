/*
 * plugins/procnet/pn_proc.c - the procnet watcher's reading of
 * /proc/net/{tcp,tcp6,udp,udp6} (see procnet.h), used where netlink
 * sock_diag is not available (method=proc, or per dump with method=auto).
 *
 * The kernel's format: a header line, then per socket "sl: LOCAL REMOTE
 * STATE tx:rx tr:when retrnsmt uid ...", addresses as hex words in host
 * byte order and ports in hex.  Every field is checked; a line that does
 * not parse is skipped and counted, never guessed at.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "procnet.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly n hex digits at *p into *v; advances *p. */
static int hex_n(const char **p, int n, uint32_t *v)
{
	uint32_t x = 0;
	int i, d;

	for (i = 0; i < n; i++) {
		d = hexval((unsigned char)(*p)[i]);
		if (d < 0)
			return -EINVAL;
		x = x << 4 | (uint32_t)d;
	}
	*p += n;
	*v = x;
	return 0;
}

/*
 * "0100007F:0035" (v4) or 32 hex digits ":" port (v6).  The kernel prints
 * each 32-bit word of the address as a native-endian number.
 */
static int parse_proc_addr(const char **pp, int family, uint8_t *addr, unsigned *port)
{
	const char *p = *pp;
	int words = family == AF_INET ? 1 : 4, i;
	uint32_t w, prt;

	for (i = 0; i < words; i++) {
		if (hex_n(&p, 8, &w) < 0)
			return -EINVAL;
		memcpy(addr + 4 * i, &w, 4);
	}
	if (*p++ != ':' || hex_n(&p, 4, &prt) < 0)
		return -EINVAL;
	if (*p != ' ' && *p != '\t')
		return -EINVAL;
	*port = prt;
	*pp = p;
	return 0;
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

int pn_proc_line(const char *line, int family, int proto, struct pn_sock *s)
{
	const char *p = skip_ws(line);
	unsigned lport, rport;
	uint8_t raddr[16];
	uint32_t state;
	char *end;
	unsigned long uid;
	static const uint8_t zero[16];

	memset(s, 0, sizeof(*s));
	/* "sl:" */
	if (*p < '0' || *p > '9')
		return -EINVAL;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p++ != ':')
		return -EINVAL;
	p = skip_ws(p);
	if (parse_proc_addr(&p, family, s->addr, &lport) < 0)
		return -EINVAL;
	p = skip_ws(p);
	if (parse_proc_addr(&p, family, raddr, &rport) < 0)
		return -EINVAL;
	p = skip_ws(p);
	if (hex_n(&p, 2, &state) < 0 || (*p != ' ' && *p != '\t'))
		return -EINVAL;
	/* tx:rx tr:when retrnsmt uid */
	p = skip_ws(p);
	p = strchr(p, ' ');
	if (!p)
		return -EINVAL;
	p = skip_ws(p);
	p = strchr(p, ' ');
	if (!p)
		return -EINVAL;
	p = skip_ws(p);
	p = strchr(p, ' ');
	if (!p)
		return -EINVAL;
	p = skip_ws(p);
	if (*p < '0' || *p > '9')
		return -EINVAL;
	uid = strtoul(p, &end, 10);
	if (end == p || (*end != ' ' && *end != '\t'))
		return -EINVAL;
	s->family = (uint8_t)family;
	s->proto = (uint8_t)proto;
	s->port = (uint16_t)lport;
	s->uid = (unsigned)uid;
	s->v6only = family == AF_INET6 ? -1 : 0;
	if (proto == BROKER_PROTO_TCP)
		return state == PN_TCP_LISTEN && lport != 0 ? 1 : 0;
	/* UDP: unconnected means state CLOSE and no peer */
	if (state != PN_TCP_CLOSE || rport != 0 ||
	    memcmp(raddr, zero, family == AF_INET ? 4 : 16) != 0 || lport == 0)
		return 0;
	return 1;
}

int pn_proc_read(const char *path, int family, int proto, void (*add)(void *arg, struct pn_sock *s),
                 pn_log_fn log, void *arg)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0, total = 0;
	ssize_t len;
	int lineno = 0, bad = 0, e;

	f = fopen(path, "re");
	if (!f) {
		e = errno;
		/* No IPv6 in this kernel: no tcp6/udp6, nothing to find there. */
		if (e == ENOENT && family == AF_INET6)
			return 0;
		return -e;  /* the caller logs it, once while it repeats */
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		struct pn_sock s;
		int r;

		total += (size_t)len;
		if (total > PN_PROC_MAX) {
			log(arg, BROKER_LOG_WARN, "%s: larger than %u bytes; the rest is ignored", path,
			    PN_PROC_MAX);
			break;
		}
		if (lineno++ == 0)
			continue;  /* header */
		r = pn_proc_line(line, family, proto, &s);
		if (r < 0) {
			if (!bad++)
				log(arg, BROKER_LOG_DEBUG, "%s:%d: cannot parse \"%.80s\"", path, lineno, line);
			continue;
		}
		if (r == 1)
			add(arg, &s);
	}
	free(line);
	fclose(f);
	if (bad)
		log(arg, BROKER_LOG_DEBUG, "%s: %d malformed lines skipped", path, bad);
	return 0;
}
