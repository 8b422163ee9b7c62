// SPDX-License-Identifier: MIT
//
// grants.go - which contigd grant each allocated device went to.
//
// The kubelet never tells a plugin that a pod is gone: it only hands the
// pod's devices to the next Allocate. So the binding device -> grant is
// kept here, and an Allocate that names a device already bound revokes
// that whole grant (the container it went to is gone, or the kubelet would
// not hand its devices out again) before the new grant is bound.
//
// Invariants: a device is bound to at most one grant; a grant is bound to
// the devices of exactly one container's allocation. The bindings are
// saved (--state, mode 0600: it holds tokens) after every change, so a
// restarted plugin still revokes the grants of pods that died while it was
// away. A saved grant contigd no longer knows (contigd restarted) fails to
// revoke, which is logged and otherwise harmless.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

type binding struct {
	Grant   uint64   `json:"grant"`
	Token   string   `json:"token"`
	Bytes   uint64   `json:"bytes"`
	Devices []string `json:"devices"`
}

type bindings struct {
	path     string // "" keeps them in memory only
	byDevice map[string]*binding
}

type stateFile struct {
	Grants []*binding `json:"grants"`
}

func loadBindings(path string) (*bindings, error) {
	b := &bindings{path: path, byDevice: map[string]*binding{}}
	if path == "" {
		return b, nil
	}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return b, nil
	}
	if err != nil {
		return nil, err
	}
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	for _, g := range st.Grants {
		if !tokenRE.MatchString(g.Token) {
			return nil, fmt.Errorf("%s: grant %d has no valid token", path, g.Grant)
		}
		for _, d := range g.Devices {
			b.byDevice[d] = g
		}
	}
	return b, nil
}

// touching is every grant bound to one of ids, each once.
func (b *bindings) touching(ids []string) []*binding {
	seen := map[*binding]bool{}
	var out []*binding
	for _, id := range ids {
		if g := b.byDevice[id]; g != nil && !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	return out
}

func (b *bindings) drop(g *binding) {
	for _, d := range g.Devices {
		if b.byDevice[d] == g {
			delete(b.byDevice, d)
		}
	}
}

func (b *bindings) bind(g *binding) {
	for _, d := range g.Devices {
		b.byDevice[d] = g
	}
}

func (b *bindings) all() []*binding {
	seen := map[*binding]bool{}
	var out []*binding
	for _, g := range b.byDevice {
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Grant < out[j].Grant })
	return out
}

// save writes the bindings to a temporary file and renames it over the
// state file: a crash leaves the old state or the new, never half of one.
func (b *bindings) save() error {
	if b.path == "" {
		return nil
	}
	data, err := json.Marshal(stateFile{Grants: b.all()})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(b.path), 0700); err != nil {
		return err
	}
	tmp := b.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, b.path)
}
