/*
 * plugins/npipe/npipe.h - what the npipe plugin's files share: the host
 * table, pipe names, security descriptors (npipe.c) and the listener
 * (npipe_listen.c).  Windows only.
 */
#ifndef BROKER_NPIPE_H
#define BROKER_NPIPE_H

#include <stddef.h>

#include <winsock2.h>
#include <windows.h>

#include <event2/util.h>

#include "broker/plugin.h"

#define NPIPE_PATH_MAX 256
#define NPIPE_BUF 65536
/* Instances one accept thread keeps waiting: WaitForMultipleObjects takes 64
 * handles, one of them the stop event. */
#define NPIPE_MAX_INSTANCES 62

extern const struct broker_host *npipe_host;

struct npipe_state {
	struct broker_plugin_handle *h;
	struct npipe_pending *pending;  /* connects in flight (loop thread) */
};

/* "//./pipe/NAME" and its other spellings -> "\\.\pipe\NAME" (and wide). */
int npipe_path(const char *address, char *out, size_t outlen, WCHAR *wout, size_t wlen, char *err,
               size_t errlen);
/* "npipe:////./pipe/NAME" from "\\.\pipe\NAME". */
void npipe_url(const char *path, char *out, size_t outlen);
const char *npipe_strerror(DWORD e, char *buf, size_t len);
/* ?mode=: 0 auto (connect only), 1 message, 2 byte. */
int npipe_mode_param(const struct broker_url *url, int *mode, int for_listen, char *err, size_t errlen);
/* The SDDL for ?sddl= (malloc'd); *warn set for "everyone". */
char *npipe_sddl_for(const char *preset, int *warn, char *err, size_t errlen);
/* A number from ?key= or the option of the same name, within [min, max]. */
int npipe_int_param(struct npipe_state *st, const struct broker_url *url, const char *key, long long min,
                    long long max, long long *out, char *err, size_t errlen);
void npipe_close_sock_hard(evutil_socket_t s);

/* npipe_listen.c */
int npipe_listen(void *state, const struct broker_url *url, struct broker_accept_sink *sink, void **listener,
                 char *err, size_t errlen);
void npipe_unlisten(void *state, void *listener);
int npipe_describe(void *state, void *listener, char *buf, size_t buflen);

#endif
