/* SPDX-License-Identifier: MIT */
/*
 * fake_socket.h - the pretend kernel's socket side for the session fuzzer:
 * who a peer is, and a look at every datagram sent.
 *
 * getsockopt and sendmsg are interposed (defined in the fuzz program, so
 * the daemon's calls land here; the real call follows):
 *
 *  - SO_PEERCRED and SO_PEERGROUPS answer for a pretend peer while one is
 *    armed (fake_peer_arm, around server_accept): the daemon's admission,
 *    access and quota code then sees other users, which a test running as
 *    one user could not make for real.
 *  - every sendmsg that succeeds is shown to a hook, with what it sent:
 *    the moment the fds of a reply leave the daemon is the moment they
 *    must be right (fuzz_session_check.c: check_sent).
 */
#ifndef CONTIG_FAKE_SOCKET_H
#define CONTIG_FAKE_SOCKET_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#define FAKE_PEER_MAX_GROUPS 4

struct fake_peer {
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[FAKE_PEER_MAX_GROUPS];
};

/* Until fake_peer_disarm, SO_PEERCRED/SO_PEERGROUPS of any socket say peer. */
void fake_peer_arm(const struct fake_peer *peer);
void fake_peer_disarm(void);

/* Called after each successful sendmsg of this process, any thread. */
typedef void (*fake_sent_fn)(int sock, const struct msghdr *msg, ssize_t sent);
void fake_on_sent(fake_sent_fn fn);

#endif
