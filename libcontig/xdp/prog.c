/* SPDX-License-Identifier: MIT */
/*
 * prog.c - load an XDP program that redirects to an XSKMAP, attach it to
 * an interface, register sockets in the map, detach (see contig_xdp.h).
 *
 * A program handle owns its bpf_object (and so its program and map fds,
 * which the bpf() syscall makes CLOEXEC). Detach removes the program from
 * the interface only if it is still ours (XDP_FLAGS_REPLACE with our fd),
 * so it never takes down a program someone attached after us.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "contig_xdp.h"
#include "xdp_internal.h"

struct contig_xdp_prog {
	struct bpf_object *obj;
	int ifindex;
	uint32_t xdp_flags;
	int prog_fd;
	int map_fd;
};

static struct bpf_object *obj_open(const char *path)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "contig_xsk");

	if (path)
		return bpf_object__open_file(path, NULL);
	return bpf_object__open_mem(contig_xsk_bpf, contig_xsk_bpf_len, &opts);
}

static int prog_find(struct contig_xdp_prog *p, const char *what)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, p->obj) if (bpf_program__type(prog) == BPF_PROG_TYPE_XDP)
	{
		p->prog_fd = bpf_program__fd(prog);
		break;
	}
	if (p->prog_fd < 0)
		return xdp_fail(ENOENT, "%s: no XDP program (SEC(\"xdp\"))", what);
	p->map_fd = bpf_object__find_map_fd_by_name(p->obj, "xsks_map");
	if (p->map_fd < 0)
		return xdp_fail(ENOENT, "%s: no map named xsks_map", what);
	return 0;
}

static int prog_load(const char *path, const char *ifname, uint32_t flags,
		     struct contig_xdp_prog **ret)
{
	const char *what = path ? path : "built-in program";
	struct contig_xdp_prog *p;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return xdp_fail(ENOMEM, "out of memory");
	p->prog_fd = p->map_fd = -1;
	p->xdp_flags = flags;
	p->ifindex = (int)if_nametoindex(ifname);
	if (!p->ifindex) {
		r = xdp_fail(ENODEV, "interface %s: %s", ifname, strerror(errno));
		goto free_p;
	}
	p->obj = obj_open(path);
	if (!p->obj) {
		r = xdp_fail(errno, "open %s: %s", what, strerror(errno));
		goto free_p;
	}
	r = bpf_object__load(p->obj);
	if (r < 0) {
		r = xdp_fail(-r, "load %s: %s", what, strerror(-r));
		goto close_obj;
	}
	r = prog_find(p, what);
	if (r < 0)
		goto close_obj;
	/* Never replace a program already there: EEXIST/EBUSY instead. */
	r = bpf_xdp_attach(p->ifindex, p->prog_fd, flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (r < 0) {
		r = xdp_fail(-r, "attach %s to %s: %s", what, ifname, strerror(-r));
		goto close_obj;
	}
	*ret = p;
	return 0;
close_obj:
	bpf_object__close(p->obj);
free_p:
	free(p);
	return r;
}

CX_EXPORT struct contig_xdp_prog *contig_xdp_prog_attach(const char *bpf_obj_path,
							 const char *ifname, uint32_t xdp_flags)
{
	struct contig_xdp_prog *p = NULL;
	int saved = errno, r;

	xdp_clear_error();
	if (!ifname || !ifname[0])
		r = xdp_fail(EINVAL, "no interface name");
	else
		r = prog_load(bpf_obj_path, ifname, xdp_flags, &p);
	return xdp_ret(r, saved) < 0 ? NULL : p;
}

CX_EXPORT int contig_xdp_prog_add_socket(struct contig_xdp_prog *p, uint32_t queue_id,
					 const struct contig_xsk_socket *s)
{
	int r;

	xdp_clear_error();
	if (!p || !s) {
		errno = -xdp_fail(EINVAL, "no program or no socket");
		return -1;
	}
	if (bpf_map_update_elem(p->map_fd, &queue_id, &s->fd, BPF_ANY) < 0) {
		r = errno;
		errno = -xdp_fail(r, "xsks_map[%u] = socket: %s", queue_id, strerror(r));
		return -1;
	}
	return 0;
}

CX_EXPORT void contig_xdp_prog_detach(struct contig_xdp_prog *p)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts);

	if (!p)
		return;
	opts.old_prog_fd = p->prog_fd;
	(void)bpf_xdp_detach(p->ifindex, p->xdp_flags, &opts);
	bpf_object__close(p->obj);
	free(p);
}
