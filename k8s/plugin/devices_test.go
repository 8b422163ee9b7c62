// SPDX-License-Identifier: MIT
//
// devices_test.go - the pure parts on synthetic pools (this machine has one
// NUMA node): device IDs, the table's health as the pool shrinks, grows and
// goes away, the NUMA-keeping preference, sizes. Run by meson's unit suite
// (k8s-plugin-unit) through build-go.sh test.
package main

import (
	"reflect"
	"testing"
)

func ids(node int, ks ...int) []string {
	var out []string
	for _, k := range ks {
		out = append(out, unitID(node, k))
	}
	return out
}

func TestUnitID(t *testing.T) {
	for _, id := range []string{"node0-0", "node1-17", "node12-3"} {
		u, ok := parseUnitID(id)
		if !ok || unitID(u.node, u.k) != id {
			t.Errorf("%q: %v %v", id, u, ok)
		}
	}
	for _, id := range []string{"", "node", "node0", "node0-", "node-1-2", "node0-01", "node0-1x", "x0-1", "node0-1 ", "node00-1"} {
		if _, ok := parseUnitID(id); ok {
			t.Errorf("%q accepted", id)
		}
	}
}

func healthOf(tb *table) map[string]string {
	m := map[string]string{}
	for _, d := range tb.devices() {
		m[d.ID] = d.Health
	}
	return m
}

func TestTable(t *testing.T) {
	const mi = 1 << 20
	tb := newTable()
	st := &poolStatus{TotalBytes: 20 * mi, PerNode: []nodeStatus{{Node: 0, TotalBytes: 8 * mi}, {Node: 1, TotalBytes: 12 * mi}}}
	if !tb.update(st, 2*mi) {
		t.Fatal("first status: no change")
	}
	if tb.update(st, 2*mi) {
		t.Fatal("same status: a change")
	}
	ds := tb.devices()
	if len(ds) != 10 || ds[0].ID != "node0-0" || ds[4].ID != "node1-0" || ds[4].Topology.Nodes[0].ID != 1 {
		t.Fatalf("devices %v", ds)
	}
	for _, d := range ds {
		if d.Health != healthy {
			t.Fatalf("%s %s", d.ID, d.Health)
		}
	}
	// contigd down: every device stays, unhealthy.
	if !tb.update(nil, 2*mi) {
		t.Fatal("down: no change")
	}
	for id, h := range healthOf(tb) {
		if h != unhealthy {
			t.Fatalf("down: %s %s", id, h)
		}
	}
	// Back with node 1 smaller: its top units unhealthy, still listed.
	st2 := &poolStatus{TotalBytes: 16 * mi, PerNode: []nodeStatus{{Node: 0, TotalBytes: 8 * mi}, {Node: 1, TotalBytes: 8 * mi}}}
	tb.update(st2, 2*mi)
	h := healthOf(tb)
	if len(h) != 10 || h["node1-3"] != healthy || h["node1-4"] != unhealthy || h["node1-5"] != unhealthy || h["node0-3"] != healthy {
		t.Fatalf("shrunk: %v", h)
	}
	if _, known, ok := tb.lookup("node1-5"); !known || ok {
		t.Fatal("node1-5 should be known and unhealthy")
	}
	if _, known, _ := tb.lookup("node1-6"); known {
		t.Fatal("node1-6 was never advertised")
	}
	// Lost bytes come off the largest node.
	st3 := &poolStatus{TotalBytes: 20 * mi, LostBytes: 4 * mi, PerNode: st.PerNode}
	tb.update(st3, 2*mi)
	h = healthOf(tb)
	if h["node1-3"] != healthy || h["node1-4"] != unhealthy || h["node0-3"] != healthy {
		t.Fatalf("lost: %v", h)
	}
	// Without per-node figures: node 0.
	tb2 := newTable()
	tb2.update(&poolStatus{TotalBytes: 7 * mi}, 2*mi)
	if n := tb2.count(); n != 3 {
		t.Fatalf("no per_node: %d devices", n)
	}
}

func TestPreferred(t *testing.T) {
	two := append(ids(0, 0, 1, 2, 3, 4, 5), ids(1, 0, 1, 2, 3)...)
	cases := []struct {
		name  string
		avail []string
		must  []string
		size  int
		want  []string
	}{
		{"best fit: the smaller node that fits", two, nil, 3, ids(1, 0, 1, 2)},
		{"only the larger node fits", two, nil, 5, ids(0, 0, 1, 2, 3, 4)},
		{"exactly a node", two, nil, 4, ids(1, 0, 1, 2, 3)},
		{"spans: the larger first", two, nil, 8, append(ids(0, 0, 1, 2, 3, 4, 5), ids(1, 0, 1)...)},
		{"must on node 0 keeps node 0", two, ids(0, 4), 3, append(ids(0, 4), ids(0, 0, 1)...)},
		{"must on node 1, node 1 short", two, ids(1, 2), 6, append(ids(1, 2), append(ids(1, 0, 1, 3), ids(0, 0, 1)...)...)},
		{"must only", two, ids(0, 1, 2), 2, ids(0, 1, 2)},
		{"lowest units, whatever the order", []string{"node0-5", "node0-2", "node0-9"}, nil, 2, ids(0, 2, 5)},
		{"unknown IDs last", []string{"gpu-7", "node0-1"}, nil, 2, []string{"node0-1", "gpu-7"}},
		{"duplicates once", []string{"node0-1", "node0-1", "node0-2"}, []string{"node0-1"}, 2, ids(0, 1, 2)},
		{"zero", two, nil, 0, nil},
	}
	for _, c := range cases {
		got := preferred(c.avail, c.must, c.size)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	good := map[string]uint64{"2M": 2 << 20, "2Mi": 2 << 20, "2MiB": 2 << 20, "1G": 1 << 30, "4096": 4096, "64k": 64 << 10}
	for s, want := range good {
		if got, err := parseSize(s); err != nil || got != want {
			t.Errorf("%q: %d %v", s, got, err)
		}
	}
	for _, s := range []string{"", "0", "M", "-2M", "2T", "2MM", "1e3", "99999999999G"} {
		if got, err := parseSize(s); err == nil {
			t.Errorf("%q accepted as %d", s, got)
		}
	}
}
