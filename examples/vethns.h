/* SPDX-License-Identifier: MIT */
/*
 * vethns.h - a veth pair with one end in a network namespace of its own,
 * for the AF_XDP example and test: local traffic only, unique names, torn
 * down at exit (also on SIGINT/SIGTERM and failed assertions).
 */
#ifndef CONTIG_VETHNS_H
#define CONTIG_VETHNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vethns {
	char ns[32];   /* network namespace (ip netns name) */
	char host[16]; /* the end in our namespace */
	char peer[16]; /* the end inside ns */
	uint8_t host_mac[6];
	uint8_t peer_mac[6];
	bool made;
};

/* Make the pair and namespace (names from tag and our pid), IPv6 off on
 * both ends so the kernel sends nothing on its own, both ends up, and
 * arrange vethns_destroy at exit. Needs root and ip(8). 0 or -errno (with
 * a message on stderr). */
int vethns_create(struct vethns *v, const char *tag);
/* Remove both (idempotent, async-signal-safe enough for exit paths). */
void vethns_destroy(struct vethns *v);
/* An AF_PACKET socket inside the namespace, bound to the peer end and
 * ethertype (host order), CLOEXEC. fd (caller owns) or -errno. */
int vethns_peer_socket(const struct vethns *v, uint16_t ethertype);
/* Send one frame from the peer end; 0 or -errno. */
int vethns_peer_send(int fd, const void *frame, size_t len);
/* Receive the next frame that arrived at the peer end (outgoing copies
 * skipped), waiting up to ms. Length, 0 on timeout, or -errno. */
int vethns_peer_recv(int fd, void *buf, size_t cap, int ms);

#endif
