// SPDX-License-Identifier: MIT
//
// devices.go - the pool as the kubelet sees it: one device per unit of
// the pool (--unit bytes), named "node<N>-<K>" for the K-th unit on NUMA
// node N, each with that node in its TopologyInfo. Pure: no I/O; the
// health poll feeds it contigd's status.
//
// Invariants: a device, once advertised, keeps its ID and node for the
// plugin's life (the kubelet keeps allocations by ID); a device is Healthy
// only while contigd answers and the node's pool still holds unit K. A
// pool that shrinks (pages lost, or contigd restarted smaller) turns the
// highest units unhealthy rather than removing them, so that the kubelet
// stops placing pods on them and still knows them; a pool that grows
// adds devices.
package main

import (
	"fmt"
	"sort"

	pb "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

const (
	healthy   = "Healthy"
	unhealthy = "Unhealthy"
)

type unitRef struct {
	node int
	k    int
}

func unitID(node, k int) string { return fmt.Sprintf("node%d-%d", node, k) }

// parseUnitID is the inverse of unitID; ok is false for anything else.
func parseUnitID(id string) (u unitRef, ok bool) {
	var tail string
	n, _ := fmt.Sscanf(id, "node%d-%d%s", &u.node, &u.k, &tail)
	if n != 2 || u.node < 0 || u.k < 0 || unitID(u.node, u.k) != id {
		return unitRef{}, false
	}
	return u, true
}

// unitsPerNode is how many whole units each node of the pool holds now.
// Without per-node figures (an older contigd) the whole pool is node 0.
// Bytes the kernel did not give back (lost_bytes) come off the largest
// node.
func unitsPerNode(st *poolStatus, unit uint64) map[int]int {
	cur := map[int]uint64{}
	if len(st.PerNode) == 0 {
		cur[0] = st.TotalBytes
	}
	for _, n := range st.PerNode {
		cur[n.Node] += n.TotalBytes
	}
	if st.LostBytes > 0 {
		big := -1
		for n, b := range cur {
			if big < 0 || b > cur[big] || (b == cur[big] && n < big) {
				big = n
			}
		}
		if cur[big] >= st.LostBytes {
			cur[big] -= st.LostBytes
		} else {
			cur[big] = 0
		}
	}
	units := map[int]int{}
	for n, b := range cur {
		units[n] = int(b / unit)
	}
	return units
}

// table is the advertised device set.
type table struct {
	seen map[int]int // node -> units ever advertised
	cur  map[int]int // node -> units healthy now (nil: contigd down)
}

func newTable() *table { return &table{seen: map[int]int{}} }

// update takes contigd's latest status (nil: contigd did not answer) and
// reports whether the device list changed.
func (t *table) update(st *poolStatus, unit uint64) bool {
	var cur map[int]int
	if st != nil {
		cur = unitsPerNode(st, unit)
	}
	changed := (cur == nil) != (t.cur == nil) || len(cur) != len(t.cur)
	for n, c := range cur {
		if t.cur[n] != c {
			changed = true
		}
		if c > t.seen[n] {
			t.seen[n] = c
		}
	}
	t.cur = cur
	return changed
}

func (t *table) nodes() []int {
	var ns []int
	for n := range t.seen {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	return ns
}

// devices is the list ListAndWatch sends: a fresh slice, never changed
// after it is returned.
func (t *table) devices() []*pb.Device {
	var list []*pb.Device
	for _, n := range t.nodes() {
		for k := 0; k < t.seen[n]; k++ {
			h := unhealthy
			if t.cur != nil && k < t.cur[n] {
				h = healthy
			}
			list = append(list, &pb.Device{
				ID:       unitID(n, k),
				Health:   h,
				Topology: &pb.TopologyInfo{Nodes: []*pb.NUMANode{{ID: int64(n)}}},
			})
		}
	}
	return list
}

// lookup says whether id is an advertised device, and whether it is
// healthy now.
func (t *table) lookup(id string) (u unitRef, known, isHealthy bool) {
	u, ok := parseUnitID(id)
	if !ok || u.k >= t.seen[u.node] {
		return unitRef{}, false, false
	}
	return u, true, t.cur != nil && u.k < t.cur[u.node]
}

func (t *table) count() int {
	c := 0
	for _, s := range t.seen {
		c += s
	}
	return c
}

// preferred picks size devices out of avail, must included, spanning as
// few NUMA nodes as it can: the nodes that already hold must-include
// devices first, then the node that fits the rest with the least to spare
// (so that large nodes stay whole for large requests), then, when no node
// fits, the nodes with the most available first. Within a node, the lowest
// units. IDs it does not know are taken last, as given.
func preferred(avail, must []string, size int) []string {
	in := map[string]bool{}
	var out []string
	for _, id := range must {
		if !in[id] {
			in[id] = true
			out = append(out, id)
		}
	}
	need := size - len(out)
	if need <= 0 {
		return out
	}
	mustOn := map[int]int{}
	for _, id := range out {
		if u, ok := parseUnitID(id); ok {
			mustOn[u.node]++
		}
	}
	byNode := map[int][]unitRef{}
	var unknown []string
	for _, id := range avail {
		if in[id] {
			continue
		}
		in[id] = true
		if u, ok := parseUnitID(id); ok {
			byNode[u.node] = append(byNode[u.node], u)
		} else {
			unknown = append(unknown, id)
		}
	}
	var nodes []int
	for n, us := range byNode {
		nodes = append(nodes, n)
		sort.Slice(us, func(i, j int) bool { return us[i].k < us[j].k })
	}
	sort.Slice(nodes, func(i, j int) bool {
		a, b := nodes[i], nodes[j]
		if mustOn[a] != mustOn[b] {
			return mustOn[a] > mustOn[b]
		}
		fa, fb := len(byNode[a]) >= need, len(byNode[b]) >= need
		if fa != fb {
			return fa
		}
		if len(byNode[a]) != len(byNode[b]) {
			if fa {
				return len(byNode[a]) < len(byNode[b])
			}
			return len(byNode[a]) > len(byNode[b])
		}
		return a < b
	})
	for _, n := range nodes {
		for _, u := range byNode[n] {
			if need == 0 {
				return out
			}
			out = append(out, unitID(u.node, u.k))
			need--
		}
	}
	for _, id := range unknown {
		if need == 0 {
			break
		}
		out = append(out, id)
		need--
	}
	return out
}
