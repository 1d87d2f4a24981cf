/*
 * UDP sockets and the receive loop of the load generator.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef NET_H
#define NET_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define NET_BATCH 64
#define NET_MAX_DGRAM 65536

typedef void (*net_recv_f)(void *ctx, int sock, const struct sockaddr_in *from, char *buf,
		int len);

typedef struct net_loop {
	int ep;
	const int *fds;
	struct mmsghdr msgs[NET_BATCH];
	struct iovec iov[NET_BATCH];
	struct sockaddr_in from[NET_BATCH];
	char bufs[NET_BATCH][NET_MAX_DGRAM];
} net_loop_t;

/* Raises the kernel's socket buffer caps when allowed. */
void net_raise_limits(void);

/* A non-blocking UDP socket on 127.0.0.1:port (0: any) with big buffers; -1 on error. */
int net_udp_socket(int port, int *bound_port);

/* "IP:PORT" to an address; 0 ok. */
int net_parse_addr(const char *text, struct sockaddr_in *a);

/* 0 when the datagram went out whole. */
int net_send(int fd, const struct sockaddr_in *to, const char *msg, int len);

int net_loop_init(net_loop_t *l, const int *fds, int n);

/* Waits up to timeout_ms, then passes every datagram waiting on any socket to cb (NUL-terminated;
 * sock is the index in fds). */
void net_poll(net_loop_t *l, int timeout_ms, net_recv_f cb, void *ctx);

#endif
