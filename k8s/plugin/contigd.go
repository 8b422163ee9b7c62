// SPDX-License-Identifier: MIT
//
// contigd.go - the plugin's only way to contigd: contigctl, run as a
// child with --json (status, grant create, grant revoke). contigctl is the
// project's contract for scripts, so the plugin needs no copy of the wire
// protocol and follows contigd's versions for free; a call costs a fork and
// exec (milliseconds), paid once per health poll and per Allocate.
// Every call has a deadline: a stuck contigd makes the call fail, it never
// blocks the plugin.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const contigctlTimeout = 10 * time.Second

type contigctl struct {
	bin    string // path of contigctl
	socket string // contigd's socket
}

// nodeStatus is one element of `contigctl status --json`'s "per_node".
type nodeStatus struct {
	Node       int    `json:"node"`
	TotalBytes uint64 `json:"total_bytes"`
	FreeBytes  uint64 `json:"free_bytes"`
}

// poolStatus is the part of `contigctl status --json` the plugin reads.
type poolStatus struct {
	PageSize   uint64       `json:"page_size"`
	TotalBytes uint64       `json:"total_bytes"`
	FreeBytes  uint64       `json:"free_bytes"`
	LostBytes  uint64       `json:"lost_bytes"`
	PerNode    []nodeStatus `json:"per_node"`
}

// grant is `contigctl grant create SIZE --json`'s answer.
type grant struct {
	ID    uint64 `json:"grant"`
	Token string `json:"token"`
	Bytes uint64 `json:"bytes"`
}

var tokenRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (c *contigctl) run(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), contigctlTimeout)
	defer cancel()
	argv := append([]string{"--socket", c.socket}, args...)
	cmd := exec.CommandContext(ctx, c.bin, argv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		what := args[0]
		if len(args) > 1 && args[0] == "grant" {
			what += " " + args[1]
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("contigctl %s: %s", what, msg)
	}
	return out, nil
}

func (c *contigctl) status() (*poolStatus, error) {
	out, err := c.run("status", "--json")
	if err != nil {
		return nil, err
	}
	var st poolStatus
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("contigctl status: %v", err)
	}
	return &st, nil
}

// grantCreate asks contigd for a grant of exactly bytes.
func (c *contigctl) grantCreate(bytes uint64) (*grant, error) {
	out, err := c.run("grant", "create", strconv.FormatUint(bytes, 10), "--json")
	if err != nil {
		return nil, err
	}
	var g grant
	if err := json.Unmarshal(out, &g); err != nil {
		return nil, fmt.Errorf("contigctl grant create: %v", err)
	}
	if !tokenRE.MatchString(g.Token) || g.Bytes != bytes {
		return nil, fmt.Errorf("contigctl grant create %d: unexpected answer %q", bytes,
			strings.TrimSpace(string(out)))
	}
	return &g, nil
}

func (c *contigctl) grantRevoke(token string) error {
	_, err := c.run("grant", "revoke", token)
	return err
}
