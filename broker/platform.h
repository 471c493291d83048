/* platform.h - the few OS services the core needs, one implementation per OS
 * (platform_posix.c, later platform_win32.c).  Logic never uses #ifdef. */
#ifndef BROKER_PLATFORM_H
#define BROKER_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <event2/buffer.h>
#include "broker/plugin.h"

/* Shared objects. */
void *platform_dl_open(const char *path, char *err, size_t errlen);
void *platform_dl_sym(void *handle, const char *name);
void platform_dl_close(void *handle);
/* ".so" or ".dll" */
const char *platform_plugin_suffix(void);

/* Descriptors of a stream (socket or pipe). */
int platform_fd_prepare(broker_fd fd);               /* non-blocking, close-on-exec */
void platform_fd_close(broker_fd fd);
int platform_shutdown_write(broker_fd fd);           /* socket: SHUT_WR */
/* Close so the far side sees a reset rather than a clean end (socket: SO_LINGER 0). */
void platform_fd_abort(broker_fd fd);
/* Read into iovecs; returns bytes, 0 at EOF, or -errno (-EAGAIN when nothing to read). */
ssize_t platform_read_iov(broker_fd fd, struct evbuffer_iovec *vec, int nvec);
/* Write up to max bytes from buf (draining what was written); bytes or -errno. */
ssize_t platform_write_buffer(broker_fd fd, struct evbuffer *buf, size_t max);
/* Send one datagram on a connected socket; bytes or -errno (-EAGAIN when full). */
ssize_t platform_send_datagram(broker_fd fd, const void *buf, size_t len);
/* Last socket/system error as a positive errno value. */
int platform_errno(void);

/* Files. */
int platform_mkdir_p(const char *path, int mode);    /* 0 or -errno */
/* Directory listing: calls fn for each regular entry name ending in suffix. */
int platform_list_dir(const char *dir, const char *suffix, int (*fn)(void *arg, const char *path), void *arg);

/* Threads hand work to the loop thread; make libevent thread-safe once, before any event_base. */
int platform_event_threads(void);

#endif
