/* platform_net.h - the socket headers, in one place: winsock on Windows,
 * the BSD headers elsewhere.  Logic files include this instead of
 * <sys/socket.h> & co.; socket errors are read with platform_errno(). */
#ifndef BROKER_PLATFORM_NET_H
#define BROKER_PLATFORM_NET_H

#include <errno.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>

/* The last socket error as an errno value, for files that do not link the
 * platform layer (platform_errno() does the same with a longer table). */
static inline int net_last_errno(void)
{
	switch (WSAGetLastError()) {
	case 0: return errno;
	case WSAEADDRINUSE: return EADDRINUSE;
	case WSAEADDRNOTAVAIL: return EADDRNOTAVAIL;
	case WSAEACCES: return EACCES;
	case WSAECONNREFUSED: return ECONNREFUSED;
	case WSAECONNRESET: return ECONNRESET;
	case WSAEWOULDBLOCK: return EAGAIN;
	case WSAEINVAL: return EINVAL;
	case WSAEAFNOSUPPORT: return EAFNOSUPPORT;
	case WSAEMFILE: return EMFILE;
	case WSAENOBUFS: return ENOBUFS;
	default: return EIO;
	}
}
#else
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

static inline int net_last_errno(void)
{
	return errno;
}
#endif

#endif
