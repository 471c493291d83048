/* udp_forward.c - see udp_forward.h. */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "broker/errfmt.h"
#include "broker/udp_forward.h"

int udp_forward_start(struct broker *b, const char *listen, const char *target, const char *owner,
                      struct udp_forward **out, char *err, size_t errlen)
{
	return errfmt(err, errlen, -EOPNOTSUPP, "UDP forwarding is not available in this build");
}

void udp_forward_stop(struct udp_forward *u)
{
}

void udp_forward_counters(const struct udp_forward *u, struct route_counters *out)
{
	memset(out, 0, sizeof(*out));
}
