/* ctl_client.h - the REQ side used by brokerctl (and tests). */
#ifndef BROKER_CTL_CLIENT_H
#define BROKER_CTL_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include "rpc/rpc.h"

struct ctl_client;

/*
 * Dial url with resend disabled (a resent request would run a command
 * twice) and the given receive timeout.  -ECONNREFUSED / -ENOENT when no
 * broker listens there ("broker not running at ...").
 */
int ctl_client_open(const char *url, int timeout_ms, struct ctl_client **out, char *err, size_t errlen);
void ctl_client_close(struct ctl_client *c);

/* One call.  On transport failure returns a negative error (reason in err);
 * otherwise 0 with the broker's status, its error text in err and the reply body. */
int ctl_client_call(struct ctl_client *c, const char *service, const char *method,
                    const uint8_t *body, size_t body_len, Broker__Rpc__Status *status,
                    uint8_t **reply, size_t *reply_len, char *err, size_t errlen);

#endif
