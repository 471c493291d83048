/* peer_check.c - peer.check_connect: ask the peer whether its policy lets
 * our streams reach a target, before anyone connects (see peer.h).  The
 * forwarder API uses it so that an expose the guest would refuse fails at
 * once with the guest's reason, not silently at the first connection.
 *
 * The request body is a link Open message of which only target is read;
 * the answer is the envelope's status: OK, or DENIED with the reason.  A
 * peer without the method answers NOT_FOUND, which the caller hears as
 * -ENOTSUP. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/errfmt.h"
#include "broker/link.h"
#include "broker/log.h"
#include "broker/mapping.h"
#include "broker/peer.h"
#include "broker/peer_policy.h"
#include "proto/link.pb-c.h"
#include "rpc/rpc.h"

#define TAG "peer"

struct check_call {
	peer_check_fn fn;
	void *arg;
};

static void on_check_reply(void *arg, int err, Broker__Rpc__Status status, const char *errtext, const uint8_t *body,
                           size_t len)
{
	struct check_call *cc = arg;
	char why[600];
	int rc;

	(void)body;
	(void)len;
	if (err) {
		snprintf(why, sizeof(why), "no answer from the peer: %s", errtext && *errtext ? errtext : strerror(-err));
		rc = err;
	} else if (status == BROKER__RPC__STATUS__OK) {
		why[0] = '\0';
		rc = 0;
	} else if (status == BROKER__RPC__STATUS__NOT_FOUND) {
		snprintf(why, sizeof(why), "the peer's brokerd is older and cannot check its policy ahead (%s)",
		         errtext && *errtext ? errtext : "no such method");
		rc = -ENOTSUP;
	} else {
		snprintf(why, sizeof(why), "%s", errtext && *errtext ? errtext : "refused (no reason given)");
		rc = status == BROKER__RPC__STATUS__DENIED ? -EPERM : -EIO;
	}
	cc->fn(cc->arg, rc, why);
	free(cc);
}

int peer_check_connect(struct peer_manager *pm, const char *target, peer_check_fn fn, void *arg)
{
	Broker__Link__Open msg = BROKER__LINK__OPEN__INIT;
	struct link *l = pm ? peer_default_link(pm) : NULL;
	struct check_call *cc;
	uint8_t *buf;
	size_t len;
	int rc;

	if (!l)
		return 0;
	cc = calloc(1, sizeof(*cc));
	if (!cc)
		return -ENOMEM;
	cc->fn = fn;
	cc->arg = arg;
	msg.target = (char *)target;
	if (rpc_pack_message(&msg.base, &buf, &len) < 0) {
		free(cc);
		return -ENOMEM;
	}
	/* link_call runs the reply exactly once, also on timeout or link loss. */
	rc = link_call(l, "peer", "check_connect", buf, len, on_check_reply, cc);
	free(buf);
	if (rc < 0) {
		free(cc);
		return rc;
	}
	return 1;
}

/* The same decision on_link_open makes for an OPEN naming a target, minus the connect. */
Broker__Rpc__Status peer_rpc_check_connect(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                           size_t *reply_len, char *err, size_t errlen)
{
	struct link *l = ctx;
	struct peer_manager *pm = link_rpc_context(l);
	struct broker *b = peer_broker(pm);
	Broker__Link__Open *req = broker__link__open__unpack(NULL, len, body);
	char target[1024];
	int rc;

	*reply = NULL;
	*reply_len = 0;
	if (!req) {
		errfmt(err, errlen, -EINVAL, "check_connect body does not decode");
		return BROKER__RPC__STATUS__BAD_REQUEST;
	}
	if (!req->target || !*req->target) {
		broker__link__open__free_unpacked(req, NULL);
		errfmt(err, errlen, -EINVAL, "check_connect names no target");
		return BROKER__RPC__STATUS__BAD_REQUEST;
	}
	if (mappings_reported_target(b->mappings, req->target))
		rc = 0;
	else
		rc = peer_policy_connect(b->policy, req->target, peer_link_is_parent(pm, l), target, sizeof(target), err,
		                         errlen);
	if (rc < 0)
		log_info(TAG, "the peer asked whether it may reach %s: no: %s", req->target, err);
	broker__link__open__free_unpacked(req, NULL);
	if (rc == -EPERM || rc == -EACCES)
		return BROKER__RPC__STATUS__DENIED;
	if (rc < 0)
		return BROKER__RPC__STATUS__BAD_REQUEST;
	return BROKER__RPC__STATUS__OK;
}
