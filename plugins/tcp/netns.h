/* netns.h - create sockets inside another network namespace (?netns=...).
 * Linux only; elsewhere asking for one is an error with a reason. */
#ifndef TCP_NETNS_H
#define TCP_NETNS_H

#include <stddef.h>

/*
 * Switch this thread into the namespace named by spec: a path
 * ("/run/netns/ns1"), a bare name ("ns1" -> /run/netns/ns1) or "pid:N"
 * (/proc/N/ns/net).  *saved receives what netns_leave needs.  Sockets
 * created before leaving stay in that namespace for their whole life.
 */
int netns_enter(const char *spec, int *saved, char *err, size_t errlen);
void netns_leave(int saved);

#endif
