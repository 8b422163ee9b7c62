/* SPDX-License-Identifier: MIT */
/*
 * contig_xsk.bpf.c - libcontig-xdp's built-in XDP program: every frame
 * goes to the AF_XDP socket registered in xsks_map for the RX queue it
 * arrived on; a queue with no socket passes its frames to the kernel stack
 * (the flags argument of bpf_redirect_map is the action when the lookup
 * fails, kernel 5.3+). Built with clang -O2 -g -target bpf.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

SEC("xdp")
int contig_xsk_redirect(struct xdp_md *ctx)
{
	return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
}

char _license[] SEC("license") = "Dual MIT/GPL";
