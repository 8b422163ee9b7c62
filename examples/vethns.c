/* SPDX-License-Identifier: MIT */
/*
 * vethns.c - see vethns.h. Uses ip(8) for the namespace and the pair (what
 * an administrator would type), setns(2) to open sockets inside it.
 */
#define _GNU_SOURCE
#include "vethns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct vethns *at_exit_one;

/* Run argv[0] with argv, quietly unless it fails; its exit status. */
static int run(const char *const *argv, bool quiet)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (quiet) {
			int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
			if (fd >= 0)
				dup2(fd, STDERR_FILENO);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void fmt_mac(char *out, const uint8_t *m)
{
	sprintf(out, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* Enter the namespace (ns) or come back (ns NULL) on this thread; saved
 * keeps our own namespace. 0 or -errno. */
static int enter(const char *ns, int *saved)
{
	char path[64];
	int fd, r = 0;

	if (!ns) {
		r = setns(*saved, CLONE_NEWNET) < 0 ? -errno : 0;
		close(*saved);
		return r;
	}
	*saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved < 0)
		return -errno;
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	if (r < 0)
		close(*saved);
	return r;
}

/* /proc/sys/net is the opener's namespace: call inside the right one. */
static void ipv6_off(const char *ifname)
{
	char path[96];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "1", 1);
		close(fd);
	}
}

static void on_exit_cleanup(void)
{
	if (at_exit_one)
		vethns_destroy(at_exit_one);
}

static void on_signal(int sig)
{
	on_exit_cleanup();
	_exit(128 + sig);
}

static int make_pair(struct vethns *v)
{
	char hm[18], pm[18];
	int saved, r;

	fmt_mac(hm, v->host_mac);
	fmt_mac(pm, v->peer_mac);
	const char *const add_ns[] = {"ip", "netns", "add", v->ns, NULL};
	const char *const add[] = {"ip",   "link",  "add",  v->host, "address", hm,
				   "type", "veth",  "peer", "name",  v->peer,	"address",
				   pm,	   "netns", v->ns,  NULL};
	const char *const up_host[] = {"ip", "link", "set", v->host, "up", NULL};
	const char *const up_peer[] = {"ip", "-n", v->ns, "link", "set", v->peer, "up", NULL};

	if (run(add_ns, false) != 0 || run(add, false) != 0)
		return -EIO;
	ipv6_off(v->host);
	r = enter(v->ns, &saved);
	if (r < 0)
		return r;
	ipv6_off(v->peer);
	r = enter(NULL, &saved);
	if (r < 0)
		return r;
	return run(up_host, false) == 0 && run(up_peer, false) == 0 ? 0 : -EIO;
}

int vethns_create(struct vethns *v, const char *tag)
{
	unsigned int id = (unsigned int)getpid();
	int r;

	memset(v, 0, sizeof(*v));
	snprintf(v->ns, sizeof(v->ns), "contig-%s-%u", tag, id);
	snprintf(v->host, sizeof(v->host), "cx%uh", id % 10000000);
	snprintf(v->peer, sizeof(v->peer), "cx%up", id % 10000000);
	/* Locally administered, unique per process. */
	const uint8_t base[6] = {0x02,	      0x63, (uint8_t)(id >> 16), (uint8_t)(id >> 8),
				 (uint8_t)id, 1};
	memcpy(v->host_mac, base, 6);
	memcpy(v->peer_mac, base, 6);
	v->peer_mac[5] = 2;
	v->made = true;
	at_exit_one = v;
	atexit(on_exit_cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	r = make_pair(v);
	if (r < 0) {
		fprintf(stderr,
			"vethns: could not set up %s/%s in netns %s (root and ip(8) needed)\n",
			v->host, v->peer, v->ns);
		vethns_destroy(v);
	}
	return r;
}

void vethns_destroy(struct vethns *v)
{
	if (!v || !v->made)
		return;
	v->made = false;
	const char *const del_link[] = {"ip", "link", "del", v->host, NULL};
	const char *const del_ns[] = {"ip", "netns", "del", v->ns, NULL};
	/* Deleting the namespace deletes the peer, and with it the pair;
	 * delete the host end too in case the namespace never got it. */
	(void)run(del_link, true);
	(void)run(del_ns, true);
}

int vethns_peer_socket(const struct vethns *v, uint16_t ethertype)
{
	struct sockaddr_ll sa = {.sll_family = AF_PACKET, .sll_protocol = htons(ethertype)};
	int saved, fd, r;

	r = enter(v->ns, &saved);
	if (r < 0)
		return r;
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ethertype));
	sa.sll_ifindex = (int)if_nametoindex(v->peer);
	if (fd < 0 || !sa.sll_ifindex || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = -errno;
	r = enter(NULL, &saved) < 0 && r == 0 ? -errno : r;
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	return fd;
}

int vethns_peer_send(int fd, const void *frame, size_t len)
{
	ssize_t n = send(fd, frame, len, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int vethns_peer_recv(int fd, void *buf, size_t cap, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	for (;;) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		int r = poll(&p, 1, ms);

		if (r <= 0)
			return r < 0 ? -errno : 0;
		ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return -errno;
		if (from.sll_pkttype != PACKET_OUTGOING)
			return (int)n;
	}
}
