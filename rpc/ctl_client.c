/* ctl_client.c - NNG REQ side of the control RPC (brokerctl, tests). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "rpc/ctl_client.h"
#include "rpc/runtime_dir.h"
#include "broker/errfmt.h"

struct ctl_client {
	nng_socket sock;
	char *path;        /* for messages: the socket file, or the URL if not ipc */
	int timeout_ms;
	uint64_t next_call_id;
};

static void fmt_timeout(char *buf, size_t len, int ms)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%d s", ms / 1000);
	else
		snprintf(buf, len, "%.1f s", ms / 1000.0);
}

/*
 * nng_dial, bounded by timeout_ms.  NNG's blocking dial has no deadline: on
 * Windows a pipe whose instances are all busy (a wedged or overloaded
 * broker) is retried every 10 ms for ever.  The dial runs on its own thread;
 * past the deadline, closing the socket aborts it.  Returns NNG's result,
 * NNG_ETIMEDOUT when the deadline passed (the socket is closed then).
 */
struct dial_job {
	nng_socket sock;
	const char *url;
	int rv;
	bool done;
	nng_mtx *mtx;
	nng_cv *cv;
};

static void dial_run(void *arg)
{
	struct dial_job *j = arg;
	int rv = nng_dial(j->sock, j->url, NULL, 0);

	nng_mtx_lock(j->mtx);
	j->rv = rv;
	j->done = true;
	nng_cv_wake(j->cv);
	nng_mtx_unlock(j->mtx);
}

static int dial_bounded(nng_socket sock, const char *url, int timeout_ms, bool *closed)
{
	struct dial_job j = { .sock = sock, .url = url };
	nng_thread *th = NULL;
	nng_time deadline;
	int rv;

	*closed = false;
	if (timeout_ms == NNG_DURATION_INFINITE)
		return nng_dial(sock, url, NULL, 0);
	if ((rv = nng_mtx_alloc(&j.mtx)) != 0)
		return rv;
	if ((rv = nng_cv_alloc(&j.cv, j.mtx)) != 0) {
		nng_mtx_free(j.mtx);
		return rv;
	}
	if ((rv = nng_thread_create(&th, dial_run, &j)) != 0) {
		nng_cv_free(j.cv);
		nng_mtx_free(j.mtx);
		return rv;
	}
	deadline = nng_clock() + (nng_time)timeout_ms;
	nng_mtx_lock(j.mtx);
	while (!j.done && nng_cv_until(j.cv, deadline) != NNG_ETIMEDOUT)
		;
	rv = j.done ? j.rv : NNG_ETIMEDOUT;
	nng_mtx_unlock(j.mtx);
	if (rv == NNG_ETIMEDOUT && !j.done) {
		nng_close(sock);  /* aborts the dial; the thread returns */
		*closed = true;
	}
	nng_thread_destroy(th);
	nng_cv_free(j.cv);
	nng_mtx_free(j.mtx);
	return rv;
}

int ctl_client_open(const char *url, int timeout_ms, struct ctl_client **out, char *err, size_t errlen)
{
	struct ctl_client *c;
	bool bad_form = false, closed = false;
	int rv, rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : NNG_DURATION_INFINITE;
	if (strncmp(url, "ipc://", 6) != 0)
		c->path = strdup(url);
	else if (!(c->path = ipc_url_local_name(url, &bad_form)) && bad_form)
		c->path = strdup(url + 6);
	if (!c->path) {
		free(c);
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	}
	/* Pick a call id unlikely to match a stale reply from an earlier process. */
	c->next_call_id = ((uint64_t)time(NULL) << 20) ^ ((uint64_t)getpid() << 1) ^ 1;

	/* Say "not running" precisely instead of NNG's generic "entry not found". */
	if (strncmp(url, "ipc://", 6) == 0 && (rc = ipc_local_name_check(c->path)) < 0) {
		if (rc == -ENOENT)
			rc = errfmt(err, errlen, -ENOENT,
			            "broker not running: no control socket at %s (start brokerd, or pass --runtime-dir)",
			            c->path);
		else if (rc == -EACCES)
			rc = errfmt(err, errlen, -EACCES, "permission denied on %s (run as the broker's user or root)",
			            c->path);
		else
			rc = errfmt(err, errlen, rc, "%s: %s", c->path, strerror(-rc));
		free(c->path);
		free(c);
		return rc;
	}
	/* Nothing is sent to a socket another user could have put there. */
	if (strncmp(url, "ipc://", 6) == 0 && (rc = ipc_local_owner_check(c->path, err, errlen)) < 0) {
		free(c->path);
		free(c);
		return rc;
	}

	if ((rv = nng_req0_open(&c->sock)) != 0) {
		rc = errfmt(err, errlen, -ENOMEM, "cannot open control socket: %s", nng_strerror(rv));
		free(c->path);
		free(c);
		return rc;
	}
	/* A resent request would run a command (route add, shutdown) twice. */
	if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, c->timeout_ms)) != 0 ||
	    (rv = nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, c->timeout_ms)) != 0 ||
	    (rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, RPC_MAX_MESSAGE + 4096u)) != 0) {
		rc = errfmt(err, errlen, -EINVAL, "cannot configure control socket: %s", nng_strerror(rv));
		goto fail;
	}
	/* Blocking dial: a missing or refusing broker is reported now, not as a timeout later. */
	rv = dial_bounded(c->sock, url, c->timeout_ms, &closed);
	if (rv == NNG_ECONNREFUSED && ipc_refused_means_absent())
		rv = NNG_ENOENT;
	switch (rv) {
	case 0:
		*out = c;
		return 0;
	case NNG_ETIMEDOUT: {
		char tbuf[32];

		fmt_timeout(tbuf, sizeof(tbuf), c->timeout_ms);
		rc = errfmt(err, errlen, -ETIMEDOUT,
		            "cannot connect to %s within %s: it stays busy (brokerd is overloaded or stuck; "
		            "try again, or give --timeout more seconds)", c->path, tbuf);
		break;
	}
	case NNG_ENOENT:
		rc = errfmt(err, errlen, -ENOENT,
		            "broker not running: no control socket at %s (start brokerd, or pass --runtime-dir)",
		            c->path);
		break;
	case NNG_ECONNREFUSED:
		rc = errfmt(err, errlen, -ECONNREFUSED, "broker not running at %s (stale socket)", c->path);
		break;
	case NNG_EPERM:
		rc = errfmt(err, errlen, -EACCES, "permission denied on %s (run as the broker's user or root)",
		            c->path);
		break;
	case NNG_EADDRINVAL:
		rc = errfmt(err, errlen, -EINVAL, "invalid control address %s", url);
		break;
	default:
		rc = errfmt(err, errlen, -EIO, "cannot connect to %s: %s", c->path, nng_strerror(rv));
		break;
	}
fail:
	if (!closed)
		nng_close(c->sock);
	free(c->path);
	free(c);
	return rc;
}

void ctl_client_close(struct ctl_client *c)
{
	if (!c)
		return;
	nng_close(c->sock);
	free(c->path);
	free(c);
}

int ctl_client_call(struct ctl_client *c, const char *service, const char *method,
                    const uint8_t *body, size_t body_len, Broker__Rpc__Status *status,
                    uint8_t **reply, size_t *reply_len, char *err, size_t errlen)
{
	uint64_t call_id = c->next_call_id++;
	uint8_t *req = NULL, *rep = NULL;
	size_t req_len = 0, rep_len = 0;
	char tbuf[32];
	int rv, rc;

	*reply = NULL;
	*reply_len = 0;
	rc = rpc_pack_request(call_id, service, method, body, body_len, &req, &req_len);
	if (rc == -EMSGSIZE)
		return errfmt(err, errlen, rc, "request too large (%zu bytes; limit %u)", body_len, RPC_MAX_MESSAGE);
	if (rc < 0)
		return errfmt(err, errlen, rc, "cannot build request: %s", strerror(-rc));
	fmt_timeout(tbuf, sizeof(tbuf), c->timeout_ms);
	/*
	 * One retry when the pipe is reset under us.  The cause in practice is
	 * brokerd replacing a wedged NNG listener (see ctl_server.c): our pipe
	 * had been accepted but never handed to the REP socket, so the request
	 * was never seen and sending it again cannot run it twice.
	 */
	for (int attempt = 0;; attempt++) {
		rv = nng_send(c->sock, req, req_len, 0);
		if (rv == 0)
			rv = nng_recv(c->sock, &rep, &rep_len, NNG_FLAG_ALLOC);
		if (rv == NNG_ECONNRESET && attempt == 0)
			continue;
		break;
	}
	free(req);
	if (rv == NNG_ETIMEDOUT)
		return errfmt(err, errlen, -ETIMEDOUT, "broker did not answer within %s", tbuf);
	if (rv == NNG_ECLOSED || rv == NNG_ECONNRESET || rv == NNG_ECONNSHUT)
		return errfmt(err, errlen, -ECONNRESET, "broker at %s closed the connection", c->path);
	if (rv != 0)
		return errfmt(err, errlen, -EIO, "talking to %s: %s", c->path, nng_strerror(rv));
	rc = rpc_unpack_reply(rep, rep_len, call_id, status, reply, reply_len, err, errlen);
	nng_free(rep, rep_len);
	return rc;
}
