/* SPDX-License-Identifier: MIT */
/*
 * xsk_ethertype.bpf.c - an XDP program for contig_xdp_prog_attach: frames
 * of one ethertype (0x88B5, IEEE "local experimental") go to the AF_XDP
 * socket of their RX queue; everything else goes on to the kernel stack,
 * so the interface keeps working for ordinary traffic. Built by meson with
 * clang -O2 -g -target bpf; load it with
 *   contig_xdp_prog_attach("build/examples/xsk_ethertype.bpf.o", ifname, flags)
 * The only contract with libcontig-xdp: an XDP program, and an XSKMAP named
 * xsks_map indexed by RX queue.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define ETH_P_CONTIG 0x88B5

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

SEC("xdp")
int xsk_ethertype(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	/* The verifier insists the header is inside the frame. */
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_CONTIG))
		return XDP_PASS;
	return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
}

char _license[] SEC("license") = "Dual MIT/GPL";
