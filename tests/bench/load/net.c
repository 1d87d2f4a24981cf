/*
 * UDP sockets with big buffers, and an epoll loop over them.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

#define BUFFER_BYTES (16 << 20)
#define RMEM_MAX_PATH "/proc/sys/net/core/rmem_max"
#define WMEM_MAX_PATH "/proc/sys/net/core/wmem_max"

/* Bursts must not be lost in the generator itself: raise the kernel's cap on socket buffers
 * where we may (root), else work with what it allows and say so. */
static void raise_limit(const char *path)
{
	FILE *f = fopen(path, "r");
	long now = 0;

	if (f) {
		if (fscanf(f, "%ld", &now) != 1)
			now = 0;
		fclose(f);
	}
	if (now >= BUFFER_BYTES)
		return;
	f = fopen(path, "w");
	if (f && fprintf(f, "%d\n", BUFFER_BYTES) > 0 && fclose(f) == 0) {
		fprintf(stderr, "pchat-load: raised %s from %ld to %d\n", path, now, BUFFER_BYTES);
		return;
	}
	if (f)
		fclose(f);
	fprintf(stderr, "pchat-load: %s is %ld and cannot be raised (not root): bursts beyond it "
					"are lost in the socket buffers\n", path, now);
}

void net_raise_limits(void)
{
	raise_limit(RMEM_MAX_PATH);
	raise_limit(WMEM_MAX_PATH);
}

static void big_buffer(int fd, int opt, int force_opt)
{
	int size = BUFFER_BYTES;

	if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size));
}

int net_udp_socket(int port, int *bound_port)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	big_buffer(fd, SO_RCVBUF, SO_RCVBUFFORCE);
	big_buffer(fd, SO_SNDBUF, SO_SNDBUFFORCE);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0
			|| getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		close(fd);
		return -1;
	}
	*bound_port = ntohs(a.sin_port);
	return fd;
}

int net_parse_addr(const char *text, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(text, ':');

	if (!colon || colon - text >= (long)sizeof(host))
		return -1;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 && a->sin_port ? 0 : -1;
}

int net_send(int fd, const struct sockaddr_in *to, const char *msg, int len)
{
	ssize_t n = sendto(fd, msg, (size_t)len, 0, (const struct sockaddr *)to, sizeof(*to));

	return n == len ? 0 : -1;
}

int net_loop_init(net_loop_t *l, const int *fds, int n)
{
	struct epoll_event ev;
	int i;

	memset(l, 0, sizeof(*l));
	l->ep = epoll_create1(0);
	if (l->ep < 0)
		return -1;
	for (i = 0; i < n; i++) {
		ev.events = EPOLLIN;
		ev.data.u32 = (uint32_t)i;
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			return -1;
	}
	l->fds = fds;
	for (i = 0; i < NET_BATCH; i++) {
		l->iov[i].iov_base = l->bufs[i];
		l->iov[i].iov_len = NET_MAX_DGRAM - 1;
		l->msgs[i].msg_hdr.msg_iov = &l->iov[i];
		l->msgs[i].msg_hdr.msg_iovlen = 1;
		l->msgs[i].msg_hdr.msg_name = &l->from[i];
	}
	return 0;
}

void net_poll(net_loop_t *l, int timeout_ms, net_recv_f cb, void *ctx)
{
	struct epoll_event evs[64];
	int n, i, k, got;

	n = epoll_wait(l->ep, evs, 64, timeout_ms);
	for (i = 0; i < n; i++) {
		int sock = (int)evs[i].data.u32;

		do {
			for (k = 0; k < NET_BATCH; k++)
				l->msgs[k].msg_hdr.msg_namelen = sizeof(l->from[k]);
			got = recvmmsg(l->fds[sock], l->msgs, NET_BATCH, MSG_DONTWAIT, NULL);
			for (k = 0; k < got; k++) {
				l->bufs[k][l->msgs[k].msg_len] = '\0';
				cb(ctx, sock, &l->from[k], l->bufs[k], (int)l->msgs[k].msg_len);
			}
		} while (got == NET_BATCH);
	}
}
