// SPDX-License-Identifier: MIT
//
// plugin.go - the DevicePlugin service: the device list and its health,
// the preferred allocation, and Allocate, which turns devices into a
// contigd grant of exactly devices x unit bytes.
//
// State has two owners, each behind its own lock: the device table (mu;
// written by the health poll, read by every call) and the grant bindings
// (allocMu; Allocates run one at a time, so that two of them never revoke
// or bind the same device at once). A published device list is never
// modified: ListAndWatch streams send it as is.
package main

import (
	"context"
	"fmt"
	"log"
	"path/filepath"
	"strconv"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	pb "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

const (
	envSocket     = "CONTIG_SOCKET"
	envGrant      = "CONTIG_GRANT"
	annotateGrant = "io.contig.grant"
)

type plugin struct {
	unit      uint64
	socket    string // contigd's socket, as the host and the container see it
	cdiDevice string // "" unless --cdi-device
	ctl       *contigctl
	stop      chan struct{} // closed on SIGTERM: streams end

	mu      sync.Mutex
	table   *table
	list    []*pb.Device
	changed chan struct{} // closed and replaced whenever list changes

	allocMu sync.Mutex
	grants  *bindings
}

func newPlugin(unit uint64, socket, cdi string, ctl *contigctl, grants *bindings) *plugin {
	return &plugin{unit: unit, socket: socket, cdiDevice: cdi, ctl: ctl, grants: grants,
		stop: make(chan struct{}), table: newTable(), changed: make(chan struct{})}
}

// refresh polls contigd once and publishes the device list if it changed.
func (p *plugin) refresh() {
	st, err := p.ctl.status()
	p.mu.Lock()
	defer p.mu.Unlock()
	wasUp := p.table.cur != nil
	if !p.table.update(st, p.unit) && p.list != nil {
		return
	}
	switch {
	case err != nil && (wasUp || p.list == nil):
		log.Printf("contigd does not answer, every device unhealthy: %v", err)
	case err == nil:
		n, h := 0, 0
		for _, d := range p.table.devices() {
			n++
			if d.Health == healthy {
				h++
			}
		}
		log.Printf("pool: %d devices of %d bytes, %d healthy", n, p.unit, h)
	}
	p.list = p.table.devices()
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *plugin) GetDevicePluginOptions(context.Context, *pb.Empty) (*pb.DevicePluginOptions, error) {
	return &pb.DevicePluginOptions{GetPreferredAllocationAvailable: true}, nil
}

func (p *plugin) ListAndWatch(_ *pb.Empty, s pb.DevicePlugin_ListAndWatchServer) error {
	for {
		p.mu.Lock()
		list, changed := p.list, p.changed
		p.mu.Unlock()
		if err := s.Send(&pb.ListAndWatchResponse{Devices: list}); err != nil {
			return err
		}
		select {
		case <-changed:
		case <-s.Context().Done():
			return nil
		case <-p.stop:
			return nil
		}
	}
}

func (p *plugin) GetPreferredAllocation(_ context.Context, req *pb.PreferredAllocationRequest) (*pb.PreferredAllocationResponse, error) {
	resp := &pb.PreferredAllocationResponse{}
	for _, c := range req.ContainerRequests {
		size := int(c.AllocationSize)
		if size < 0 || size > len(c.AvailableDeviceIDs)+len(c.MustIncludeDeviceIDs) {
			return nil, status.Errorf(codes.InvalidArgument,
				"allocation_size %d with %d devices available", size, len(c.AvailableDeviceIDs))
		}
		ids := preferred(c.AvailableDeviceIDs, c.MustIncludeDeviceIDs, size)
		resp.ContainerResponses = append(resp.ContainerResponses,
			&pb.ContainerPreferredAllocationResponse{DeviceIDs: ids})
	}
	return resp, nil
}

// checkRequest refuses, before anything is created, what no kubelet asks:
// more devices than the pool has, no devices, an unknown or unhealthy
// device, a device twice.
func (p *plugin) checkRequest(req *pb.AllocateRequest) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range req.ContainerRequests {
		n += len(c.DevicesIds)
	}
	if pool := p.table.count(); n > pool {
		return status.Errorf(codes.ResourceExhausted, "%d devices asked for, the pool has %d", n, pool)
	}
	seen := map[string]bool{}
	for _, c := range req.ContainerRequests {
		if len(c.DevicesIds) == 0 {
			return status.Error(codes.InvalidArgument, "a container request without devices")
		}
		for _, id := range c.DevicesIds {
			_, known, ok := p.table.lookup(id)
			switch {
			case !known:
				return status.Errorf(codes.InvalidArgument, "unknown device %q", id)
			case seen[id]:
				return status.Errorf(codes.InvalidArgument, "device %q asked for twice", id)
			case !ok:
				return status.Errorf(codes.Unavailable, "device %q is unhealthy", id)
			}
			seen[id] = true
		}
	}
	return nil
}

func (p *plugin) Allocate(_ context.Context, req *pb.AllocateRequest) (*pb.AllocateResponse, error) {
	if len(req.ContainerRequests) == 0 {
		return nil, status.Error(codes.InvalidArgument, "no container requests")
	}
	if err := p.checkRequest(req); err != nil {
		log.Printf("Allocate refused: %v", err)
		return nil, err
	}
	p.allocMu.Lock()
	defer p.allocMu.Unlock()

	// Every grant first: if one cannot be had, the others are revoked
	// and nothing else has changed.
	created := make([]*binding, 0, len(req.ContainerRequests))
	for _, c := range req.ContainerRequests {
		bytes := uint64(len(c.DevicesIds)) * p.unit
		g, err := p.ctl.grantCreate(bytes)
		if err != nil {
			for _, b := range created {
				if rerr := p.ctl.grantRevoke(b.Token); rerr != nil {
					log.Printf("grant %d: %v", b.Grant, rerr)
				}
			}
			log.Printf("Allocate of %d bytes failed: %v", bytes, err)
			return nil, status.Errorf(codes.Unavailable, "%v", err)
		}
		ids := append([]string(nil), c.DevicesIds...)
		created = append(created, &binding{Grant: g.ID, Token: g.Token, Bytes: g.Bytes, Devices: ids})
	}

	// The devices' previous grants: their containers are gone.
	for _, c := range req.ContainerRequests {
		for _, old := range p.grants.touching(c.DevicesIds) {
			if err := p.ctl.grantRevoke(old.Token); err != nil {
				log.Printf("grant %d of devices %v: not revoked: %v", old.Grant, old.Devices, err)
			} else {
				log.Printf("grant %d of devices %v revoked: its devices went to a new allocation",
					old.Grant, old.Devices)
			}
			p.grants.drop(old)
		}
	}

	resp := &pb.AllocateResponse{}
	dir := filepath.Dir(p.socket)
	for _, b := range created {
		p.grants.bind(b)
		cr := &pb.ContainerAllocateResponse{
			Envs:        map[string]string{envGrant: b.Token},
			Annotations: map[string]string{annotateGrant: strconv.FormatUint(b.Grant, 10)},
		}
		if p.cdiDevice != "" {
			// The CDI spec mounts the directory and sets CONTIG_SOCKET.
			cr.CdiDevices = []*pb.CDIDevice{{Name: p.cdiDevice}}
		} else {
			cr.Envs[envSocket] = p.socket
			cr.Mounts = []*pb.Mount{{ContainerPath: dir, HostPath: dir}}
		}
		resp.ContainerResponses = append(resp.ContainerResponses, cr)
		log.Printf("grant %d: %d bytes for devices %v", b.Grant, b.Bytes, b.Devices)
	}
	if err := p.grants.save(); err != nil {
		log.Printf("grants not saved: %v", err)
	}
	return resp, nil
}

func (p *plugin) PreStartContainer(context.Context, *pb.PreStartContainerRequest) (*pb.PreStartContainerResponse, error) {
	return &pb.PreStartContainerResponse{}, nil
}

func (p *plugin) String() string { return fmt.Sprintf("contig device plugin, unit %d", p.unit) }
