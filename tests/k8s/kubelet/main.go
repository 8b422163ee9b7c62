// SPDX-License-Identifier: MIT
//
// fake-kubelet - tests/k8s: the device plugin against a kubelet played
// over the real gRPC protocol (v1beta1), a real contigd on a private
// socket with real hugepages, real contigctl, and "containers" that are
// libcontig processes (tests/k8s/grant_client.c) started with nothing but
// what Allocate returned: its environment, and its mounts in a mount
// namespace of their own where a tmpfs hides the rest of the test's
// directory, each in a cgroup v2 directory of its own.
//
//	fake-kubelet PLUGIN CLIENT      (CONTIGD and CONTIGCTL from the environment)
//
// What a kubelet does, in order: Registration server on DIR/kubelet.sock;
// the plugin registers (version, endpoint, resource, options); then
// GetDevicePluginOptions, ListAndWatch (held open all along), GetPreferred-
// Allocation, Allocate for two containers (each fills its grant and gets
// EDQUOT a page past it, the other unaffected; a forged token EACCES);
// the first container's devices allocated again (its grant revoked:
// EACCES); bad input (gRPC errors, the plugin lives on); contigd stopped
// (every device Unhealthy) and restarted smaller (the units it lost stay
// Unhealthy); the kubelet "restarts" (sockets deleted, a new kubelet.sock):
// the plugin registers again; SIGTERM: exit 0, socket gone; a restarted
// plugin still revokes the grants it made before.
//
// Prints "k8s: ..." lines with the measurements; exit 0 pass, 1 fail,
// 77 skip (no root, no cgroup v2, no unshare).
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	pb "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

const (
	mi       = 1 << 20
	unit     = 2 * mi
	resource = "contig.io/dma-2Mi"
)

var (
	pluginBin, clientBin, contigd, contigctl string
	work, runDir, dpDir, sock, stateFile     string
	cgRoot                                   string // this test's cgroup directory
	cleanups                                 []func()
)

func say(format string, a ...interface{}) { fmt.Printf("k8s: "+format+"\n", a...) }

func cleanup() {
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

func dump(path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		fmt.Printf("%s: %s\n", filepath.Base(path), l)
	}
}

func fail(format string, a ...interface{}) {
	fmt.Printf("FAIL: "+format+"\n", a...)
	dump(filepath.Join(work, "plugin.log"))
	dump(filepath.Join(work, "contigd.log"))
	cleanup()
	os.Exit(1)
}

func skip(format string, a ...interface{}) {
	fmt.Printf("SKIP: "+format+"\n", a...)
	os.Exit(77)
}

func check(ok bool, format string, a ...interface{}) {
	if !ok {
		fail(format, a...)
	}
}

// ---- contigd and contigctl ------------------------------------------------

type daemon struct{ cmd *exec.Cmd }

func startContigd(pool string) *daemon {
	log, err := os.OpenFile(filepath.Join(work, "contigd.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0644)
	check(err == nil, "contigd log: %v", err)
	cmd := exec.Command(contigd, "--socket", sock, "--pool", pool)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET=", "LISTEN_FDS=")
	check(cmd.Start() == nil, "start contigd")
	log.Close()
	d := &daemon{cmd}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	for i := 0; ; i++ {
		if _, err := ctl("status", "--json"); err == nil {
			break
		}
		select {
		case <-exited:
			fail("contigd exited at start")
		case <-time.After(100 * time.Millisecond):
		}
		check(i < 300, "contigd did not start")
	}
	cleanups = append(cleanups, func() { d.stop() })
	return d
}

func (d *daemon) stop() {
	if d.cmd.ProcessState == nil {
		d.cmd.Process.Signal(syscall.SIGTERM)
		for i := 0; i < 100 && d.cmd.ProcessState == nil; i++ {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func ctl(args ...string) ([]byte, error) {
	cmd := exec.Command(contigctl, append([]string{"--socket", sock}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("contigctl %v: %v: %s", args, err, stderr.String())
	}
	return out, nil
}

type grantItem struct {
	Grant    uint64 `json:"grant"`
	Bytes    uint64 `json:"bytes"`
	Held     uint64 `json:"held_bytes"`
	Sessions int    `json:"sessions"`
	Revoked  bool   `json:"revoked"`
}

func grants() map[uint64]grantItem {
	out, err := ctl("grants", "--json")
	check(err == nil, "%v", err)
	var g struct{ Grants []grantItem }
	check(json.Unmarshal(out, &g) == nil, "grants --json: %s", out)
	m := map[uint64]grantItem{}
	for _, it := range g.Grants {
		m[it.Grant] = it
	}
	return m
}

type poolStatus struct {
	TotalBytes uint64 `json:"total_bytes"`
	PerNode    []struct {
		Node       int    `json:"node"`
		TotalBytes uint64 `json:"total_bytes"`
	} `json:"per_node"`
}

func contigStatus() poolStatus {
	out, err := ctl("status", "--json")
	check(err == nil, "%v", err)
	var st poolStatus
	check(json.Unmarshal(out, &st) == nil, "status --json: %s", out)
	return st
}

// ---- the kubelet's side -----------------------------------------------------

type registration struct {
	pb.UnimplementedRegistrationServer
	got chan *pb.RegisterRequest
}

func (r *registration) Register(_ context.Context, req *pb.RegisterRequest) (*pb.Empty, error) {
	r.got <- req
	return &pb.Empty{}, nil
}

type kubelet struct {
	srv *grpc.Server
	reg *registration
}

func startKubelet() *kubelet {
	path := filepath.Join(dpDir, "kubelet.sock")
	l, err := net.Listen("unix", path)
	check(err == nil, "listen %s: %v", path, err)
	k := &kubelet{grpc.NewServer(), &registration{got: make(chan *pb.RegisterRequest, 8)}}
	pb.RegisterRegistrationServer(k.srv, k.reg)
	go k.srv.Serve(l)
	return k
}

func (k *kubelet) awaitRegister(since time.Time) time.Duration {
	select {
	case req := <-k.reg.got:
		d := time.Since(since)
		check(req.Version == "v1beta1", "Register: version %q", req.Version)
		check(req.Endpoint == "contig.sock", "Register: endpoint %q", req.Endpoint)
		check(req.ResourceName == resource, "Register: resource %q", req.ResourceName)
		check(req.Options != nil && req.Options.GetPreferredAllocationAvailable && !req.Options.PreStartRequired,
			"Register: options %v", req.Options)
		return d
	case <-time.After(15 * time.Second):
		fail("the plugin did not register within 15 s")
	}
	return 0
}

func dialPlugin() (pb.DevicePluginClient, *grpc.ClientConn) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, filepath.Join(dpDir, "contig.sock"), grpc.WithInsecure(), grpc.WithBlock(),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", a)
		}))
	check(err == nil, "dial the plugin: %v", err)
	return pb.NewDevicePluginClient(conn), conn
}

// watch reads a ListAndWatch stream into a channel of device lists.
func watch(c pb.DevicePluginClient) <-chan []*pb.Device {
	s, err := c.ListAndWatch(context.Background(), &pb.Empty{})
	check(err == nil, "ListAndWatch: %v", err)
	ch := make(chan []*pb.Device, 64)
	go func() {
		for {
			r, err := s.Recv()
			if err != nil {
				close(ch)
				return
			}
			ch <- r.Devices
		}
	}()
	return ch
}

func countHealthy(list []*pb.Device) int {
	n := 0
	for _, d := range list {
		if d.Health == "Healthy" {
			n++
		}
	}
	return n
}

// awaitList waits for a list from the stream that satisfies ok.
func awaitList(ch <-chan []*pb.Device, what string, ok func([]*pb.Device) bool) []*pb.Device {
	deadline := time.After(15 * time.Second)
	for {
		select {
		case l, open := <-ch:
			check(open, "ListAndWatch ended while waiting for %s", what)
			if ok(l) {
				return l
			}
		case <-deadline:
			fail("ListAndWatch: no %s within 15 s", what)
		}
	}
}

func allocate(c pb.DevicePluginClient, ids ...[]string) (*pb.AllocateResponse, time.Duration, error) {
	req := &pb.AllocateRequest{}
	for _, l := range ids {
		req.ContainerRequests = append(req.ContainerRequests, &pb.ContainerAllocateRequest{DevicesIds: l})
	}
	t0 := time.Now()
	r, err := c.Allocate(context.Background(), req)
	return r, time.Since(t0), err
}

var tokenRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkResponse: what one container gets, and the grant it names.
func checkResponse(r *pb.ContainerAllocateResponse, devices int) (token string, grant uint64) {
	check(r.Envs["CONTIG_SOCKET"] == sock, "CONTIG_SOCKET %q", r.Envs["CONTIG_SOCKET"])
	token = r.Envs["CONTIG_GRANT"]
	check(tokenRE.MatchString(token), "CONTIG_GRANT %q", token)
	check(len(r.Mounts) == 1 && r.Mounts[0].HostPath == runDir && r.Mounts[0].ContainerPath == runDir &&
		!r.Mounts[0].ReadOnly, "mounts %v", r.Mounts)
	_, err := fmt.Sscanf(r.Annotations["io.contig.grant"], "%d", &grant)
	check(err == nil, "annotations %v", r.Annotations)
	g, ok := grants()[grant]
	check(ok && g.Bytes == uint64(devices)*unit && !g.Revoked, "grant %d: %+v, want %d bytes", grant, g, devices*unit)
	return token, grant
}

// ---- containers -------------------------------------------------------------

type container struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	cgroup string // as /proc/PID/cgroup shows it
	kv     map[string]string
}

// runContainer starts the client in its own mount namespace, where a
// tmpfs covers the whole test directory and only the mounts Allocate
// returned are put back, with only Allocate's environment, and moves it
// into cgroup <test>/<name> before it makes its first call.
func runContainer(name string, r *pb.ContainerAllocateResponse, mode string) *container {
	script := "set -e\nmount -t tmpfs -o size=1m,mode=0755 k8s-stage /mnt\n"
	for i, m := range r.Mounts {
		script += fmt.Sprintf("mkdir /mnt/%d\nmount --bind '%s' /mnt/%d\n", i, m.HostPath, i)
	}
	script += fmt.Sprintf("mount -t tmpfs -o size=1m,mode=0755 k8s-hide '%s'\n", work)
	for i, m := range r.Mounts {
		script += fmt.Sprintf("mkdir -p '%s'\nmount --move /mnt/%d '%s'\n", m.ContainerPath, i, m.ContainerPath)
	}
	script += fmt.Sprintf("test ! -e '%s'\nexec '%s' %s\n", filepath.Join(dpDir, "kubelet.sock"), clientBin, mode)
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	for k, v := range r.Envs {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = os.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	check(err == nil, "pipe")
	stdout, err := cmd.StdoutPipe()
	check(err == nil, "pipe")
	check(cmd.Start() == nil, "start %s", name)
	c := &container{name: name, cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout), kv: map[string]string{}}
	cleanups = append(cleanups, func() { c.end() })

	dir := filepath.Join(cgRoot, name)
	check(os.Mkdir(dir, 0755) == nil, "mkdir %s", dir)
	cleanups = append(cleanups, func() { os.Remove(dir) })
	err = os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(fmt.Sprint(cmd.Process.Pid)), 0)
	check(err == nil, "%s: into %s: %v", name, dir, err)
	c.cgroup = cgPath(cmd.Process.Pid)
	check(c.cgroup == "/"+strings.TrimPrefix(dir, cgMount+"/"), "%s is in %s, not %s", name, c.cgroup, dir)
	if mode == "fill" {
		fmt.Fprintln(stdin, "go")
		c.readUntil("ready")
	} else {
		fmt.Fprintln(stdin, "go") // only now in its cgroup: it may connect
		c.readUntil("")
		c.cmd.Wait()
	}
	return c
}

// readUntil reads key=value lines until the line stop ("" : end of output).
func (c *container) readUntil(stop string) {
	done := make(chan error, 1)
	go func() {
		for {
			line, err := c.out.ReadString('\n')
			line = strings.TrimSpace(line)
			if line != "" {
				fmt.Printf("  %s: %s\n", c.name, line)
			}
			if kv := strings.SplitN(line, "=", 2); len(kv) == 2 {
				c.kv[kv[0]] = kv[1]
			}
			if err != nil {
				if stop == "" {
					err = nil
				}
				done <- err
				return
			}
			if stop != "" && line == stop {
				done <- nil
				return
			}
		}
	}()
	select {
	case err := <-done:
		check(err == nil, "%s: output ended before %q", c.name, stop)
	case <-time.After(60 * time.Second):
		fail("%s: no %q within 60 s", c.name, stop)
	}
}

func (c *container) end() {
	if c.cmd.ProcessState != nil {
		return
	}
	c.stdin.Close()
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
	check(c.cmd.ProcessState.Success(), "%s exited with %v", c.name, c.cmd.ProcessState)
}

// probe runs the client once with env: the errno of one 2 MiB call.
func probe(name string, r *pb.ContainerAllocateResponse) string {
	c := runContainer(name, r, "probe")
	return c.kv["errno"]
}

var cgMount string

func cgroup2Mount() string {
	data, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[2] == "cgroup2" {
			return f[1]
		}
	}
	return ""
}

func cgPath(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "0::") {
			return strings.TrimPrefix(l, "0::")
		}
	}
	return ""
}

func sessionCgroups() []string {
	out, err := ctl("clients", "--json")
	check(err == nil, "%v", err)
	var c struct {
		Clients []struct {
			Cgroup string `json:"cgroup"`
		}
	}
	check(json.Unmarshal(out, &c) == nil, "clients --json: %s", out)
	var l []string
	for _, s := range c.Clients {
		l = append(l, s.Cgroup)
	}
	return l
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// ---- the plugin -------------------------------------------------------------

func startPlugin() (*exec.Cmd, time.Time) {
	log, err := os.OpenFile(filepath.Join(work, "plugin.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0644)
	check(err == nil, "plugin log")
	cmd := exec.Command(pluginBin, "--plugin-dir", dpDir, "--contigd-socket", sock, "--contigctl", contigctl,
		"--health-interval", "200ms", "--state", stateFile)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	t0 := time.Now()
	check(cmd.Start() == nil, "start the plugin")
	log.Close()
	cleanups = append(cleanups, func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, t0
}

func stopPlugin(cmd *exec.Cmd) time.Duration {
	t0 := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		fail("the plugin did not stop within 10 s of SIGTERM")
	}
	check(cmd.ProcessState.Success(), "the plugin exited with %v after SIGTERM", cmd.ProcessState)
	_, err := os.Stat(filepath.Join(dpDir, "contig.sock"))
	check(os.IsNotExist(err), "contig.sock left behind")
	return time.Since(t0)
}

func grpcCode(err error) codes.Code { return status.Code(err) }

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: fake-kubelet PLUGIN CLIENT")
		os.Exit(2)
	}
	pluginBin, clientBin = os.Args[1], os.Args[2]
	contigd, contigctl = os.Getenv("CONTIGD"), os.Getenv("CONTIGCTL")
	if contigd == "" || contigctl == "" {
		skip("CONTIGD and CONTIGCTL must name the daemon and the CLI (meson test sets them)")
	}
	if os.Geteuid() != 0 {
		skip("needs root (contigd's hugepages, grants, cgroups, mount namespaces)")
	}
	if cgMount = cgroup2Mount(); cgMount == "" {
		skip("no cgroup2 mount in /proc/mounts")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		skip("unshare (util-linux) missing")
	}
	var err error
	work, err = os.MkdirTemp("/tmp", "contig-k8s-")
	check(err == nil, "mkdtemp")
	cleanups = append(cleanups, func() { os.RemoveAll(work) })
	runDir, dpDir = filepath.Join(work, "run"), filepath.Join(work, "device-plugins")
	sock, stateFile = filepath.Join(runDir, "contigd.sock"), filepath.Join(work, "state", "grants.json")
	os.Mkdir(runDir, 0755)
	os.Mkdir(dpDir, 0755)
	cgRoot = filepath.Join(cgMount, filepath.Base(work))
	check(os.Mkdir(cgRoot, 0755) == nil, "mkdir %s", cgRoot)
	cleanups = append(cleanups, func() { os.Remove(cgRoot) })
	defer cleanup()

	// 32 MiB: 16 devices of 2 MiB.
	d := startContigd("32M")
	st := contigStatus()
	nodeOf := map[string]int64{}
	k := startKubelet()
	plugin, t0 := startPlugin()
	say("registered %s %s after start", resource, ms(k.awaitRegister(t0)))

	c, conn := dialPlugin()
	opts, err := c.GetDevicePluginOptions(context.Background(), &pb.Empty{})
	check(err == nil && opts.GetPreferredAllocationAvailable && !opts.PreStartRequired, "options %v %v", opts, err)
	stream := watch(c)
	list := awaitList(stream, "16 healthy devices", func(l []*pb.Device) bool { return countHealthy(l) == 16 })
	check(len(list) == 16, "%d devices", len(list))
	perNode := map[int64]int{}
	var all []string
	for _, dev := range list {
		check(dev.Topology != nil && len(dev.Topology.Nodes) == 1, "%s: topology %v", dev.ID, dev.Topology)
		nodeOf[dev.ID] = dev.Topology.Nodes[0].ID
		perNode[dev.Topology.Nodes[0].ID]++
		all = append(all, dev.ID)
	}
	for _, n := range st.PerNode {
		check(perNode[int64(n.Node)] == int(n.TotalBytes/unit), "node %d: %d devices for %d bytes", n.Node, perNode[int64(n.Node)], n.TotalBytes)
	}
	say("ListAndWatch: %d devices, per NUMA node %v", len(list), perNode)

	// GetPreferredAllocation: 4 of 16, then 3 with one that must be in.
	pref, err := c.GetPreferredAllocation(context.Background(), &pb.PreferredAllocationRequest{
		ContainerRequests: []*pb.ContainerPreferredAllocationRequest{
			{AvailableDeviceIDs: all, AllocationSize: 4},
			{AvailableDeviceIDs: all, MustIncludeDeviceIDs: []string{all[9]}, AllocationSize: 3},
		}})
	check(err == nil && len(pref.ContainerResponses) == 2, "GetPreferredAllocation: %v %v", pref, err)
	a := pref.ContainerResponses[0].DeviceIDs
	check(len(a) == 4, "preferred %v", a)
	for _, id := range a {
		check(nodeOf[id] == nodeOf[a[0]], "preferred %v spans NUMA nodes", a)
	}
	p2 := pref.ContainerResponses[1].DeviceIDs
	check(len(p2) == 3 && p2[0] == all[9], "preferred with must-include: %v", p2)
	say("GetPreferredAllocation: %v; with %s included: %v", a, all[9], p2)

	// Container A: 4 devices, container B: 3 others.
	used := map[string]bool{}
	for _, id := range a {
		used[id] = true
	}
	var b []string
	for _, id := range all {
		if !used[id] && len(b) < 3 {
			b = append(b, id)
			used[id] = true
		}
	}
	ra, lat, err := allocate(c, a)
	check(err == nil && len(ra.ContainerResponses) == 1, "Allocate A: %v", err)
	tokA, grantA := checkResponse(ra.ContainerResponses[0], 4)
	say("Allocate of 4 devices: %s (grant %d of 8 MiB)", ms(lat), grantA)
	rb, lat, err := allocate(c, b)
	check(err == nil && len(rb.ContainerResponses) == 1, "Allocate B: %v", err)
	tokB, grantB := checkResponse(rb.ContainerResponses[0], 3)
	check(tokB != tokA, "two containers, one token")
	say("Allocate of 3 devices: %s (grant %d of 6 MiB)", ms(lat), grantB)

	ca := runContainer("podA", ra.ContainerResponses[0], "fill")
	check(ca.kv["regions"] == "4" && ca.kv["errno"] == "EDQUOT" && ca.kv["small_errno"] == "EDQUOT",
		"container A: %v, want 4 regions of 2 MiB then EDQUOT", ca.kv)
	check(ca.kv["cgroup"] == ca.cgroup, "container A reports cgroup %q", ca.kv["cgroup"])
	cb := runContainer("podB", rb.ContainerResponses[0], "fill")
	check(cb.kv["regions"] == "3" && cb.kv["errno"] == "EDQUOT" && cb.kv["small_errno"] == "EDQUOT",
		"container B: %v, want 3 regions of 2 MiB then EDQUOT", cb.kv)
	g := grants()
	check(g[grantA].Held == 8*mi && g[grantA].Sessions == 1, "grant A: %+v", g[grantA])
	check(g[grantB].Held == 6*mi && g[grantB].Sessions == 1, "grant B: %+v", g[grantB])
	cgs := sessionCgroups()
	check(contains(cgs, ca.cgroup) && contains(cgs, cb.cgroup), "sessions' cgroups %v, want %s and %s", cgs, ca.cgroup, cb.cgroup)
	say("containers: A holds 8 MiB in %s, B 6 MiB in %s, each EDQUOT one page past its grant", ca.cgroup, cb.cgroup)

	forged := &pb.ContainerAllocateResponse{Envs: map[string]string{"CONTIG_SOCKET": sock, "CONTIG_GRANT": randomToken()},
		Mounts: ra.ContainerResponses[0].Mounts}
	check(probe("forged", forged) == "EACCES", "a forged token is not refused with EACCES")

	// Pod A deleted: the kubelet hands its devices to pod C.
	ca.end()
	rc, lat, err := allocate(c, a)
	check(err == nil, "Allocate C: %v", err)
	tokC, grantC := checkResponse(rc.ContainerResponses[0], 4)
	check(tokC != tokA, "re-allocation kept the token")
	gA, listed := grants()[grantA]
	check(!listed || gA.Revoked, "grant A not revoked after its devices went to C: %+v", gA)
	staleA := &pb.ContainerAllocateResponse{Envs: map[string]string{"CONTIG_SOCKET": sock, "CONTIG_GRANT": tokA},
		Mounts: ra.ContainerResponses[0].Mounts}
	check(probe("podA-again", staleA) == "EACCES", "A's revoked token still works")
	check(probe("podC", rc.ContainerResponses[0]) == "0", "C's token does not work")
	check(grants()[grantB].Held == 6*mi && !grants()[grantB].Revoked, "B's grant touched by A's re-allocation")
	say("re-Allocate of A's devices: %s; A's grant revoked (EACCES), B's untouched", ms(lat))

	// Overlap: one of C's devices and one free one: C's whole grant goes.
	var free string
	for _, id := range all {
		if !used[id] {
			free = id
			break
		}
	}
	rd, _, err := allocate(c, []string{a[0], free})
	check(err == nil, "Allocate D: %v", err)
	_, grantD := checkResponse(rd.ContainerResponses[0], 2)
	gC, listed := grants()[grantC]
	check(!listed || gC.Revoked, "grant C not revoked when one of its devices went to D")

	// Bad input: errors, no crash.
	_, _, err = allocate(c, []string{"node0-999"})
	check(grpcCode(err) == codes.InvalidArgument, "unknown device: %v", err)
	_, _, err = allocate(c, []string{"gpu-0"})
	check(grpcCode(err) == codes.InvalidArgument, "foreign device: %v", err)
	_, _, err = allocate(c, all, all)
	check(grpcCode(err) == codes.ResourceExhausted, "32 devices of a 16-device pool: %v", err)
	_, _, err = allocate(c, []string{b[0], b[0]})
	check(grpcCode(err) == codes.InvalidArgument, "a device twice: %v", err)
	_, _, err = allocate(c, []string{})
	check(grpcCode(err) == codes.InvalidArgument, "no devices: %v", err)
	_, _, err = allocate(c)
	check(grpcCode(err) == codes.InvalidArgument, "no containers: %v", err)
	_, err = c.GetPreferredAllocation(context.Background(), &pb.PreferredAllocationRequest{
		ContainerRequests: []*pb.ContainerPreferredAllocationRequest{{AvailableDeviceIDs: all[:2], AllocationSize: 5}}})
	check(grpcCode(err) == codes.InvalidArgument, "preferred 5 of 2: %v", err)
	_, err = c.GetDevicePluginOptions(context.Background(), &pb.Empty{})
	check(err == nil && plugin.ProcessState == nil, "the plugin died of bad input")
	live := 0
	for _, it := range grants() {
		if !it.Revoked {
			live++
		}
	}
	check(live == 2, "bad input left grants behind: %+v (B and D only)", grants())
	say("bad input: InvalidArgument / ResourceExhausted, the plugin serves on")

	// contigd stops: every device unhealthy; back smaller: the lost units stay so.
	cb.end()
	t1 := time.Now()
	d.stop()
	awaitList(stream, "every device unhealthy", func(l []*pb.Device) bool { return len(l) == 16 && countHealthy(l) == 0 })
	say("contigd stopped: all 16 devices Unhealthy after %s (health poll 200 ms)", ms(time.Since(t1)))
	t1 = time.Now()
	d = startContigd("24M")
	list = awaitList(stream, "12 healthy of 16", func(l []*pb.Device) bool { return len(l) == 16 && countHealthy(l) == 12 })
	for _, dev := range list {
		var n, u int
		fmt.Sscanf(dev.ID, "node%d-%d", &n, &u)
		check((u < 12) == (dev.Health == "Healthy"), "after the shrink: %s %s", dev.ID, dev.Health)
	}
	say("contigd back with 24 MiB: 12 Healthy, 4 Unhealthy after %s", ms(time.Since(t1)))

	// The kubelet restarts: it deletes the sockets and serves a new kubelet.sock.
	conn.Close()
	k.srv.Stop()
	os.Remove(filepath.Join(dpDir, "kubelet.sock"))
	os.Remove(filepath.Join(dpDir, "contig.sock"))
	time.Sleep(300 * time.Millisecond)
	t1 = time.Now()
	k = startKubelet()
	say("re-registered %s after kubelet.sock was re-created", ms(k.awaitRegister(t1)))
	c, conn = dialPlugin()
	stream = watch(c)
	awaitList(stream, "16 devices, 12 healthy, after re-registration", func(l []*pb.Device) bool { return len(l) == 16 && countHealthy(l) == 12 })
	// contigd restarted: D's grant is gone with it; its devices still allocate.
	re, _, err := allocate(c, []string{a[0], a[1]})
	check(err == nil, "Allocate after contigd's restart: %v", err)
	tokE, grantE := checkResponse(re.ContainerResponses[0], 2)
	_ = grantD

	// SIGTERM; then a new plugin process still knows E's grant from --state.
	say("SIGTERM: stopped in %s, contig.sock removed", ms(stopPlugin(plugin)))
	fi, err := os.Stat(stateFile)
	check(err == nil && fi.Mode().Perm() == 0600, "state file %v %v", fi, err)
	plugin, t0 = startPlugin()
	k.awaitRegister(t0)
	conn.Close()
	c, conn = dialPlugin()
	_, _, err = allocate(c, []string{a[1]})
	check(err == nil, "Allocate after the plugin's restart: %v", err)
	gE, listed := grants()[grantE]
	check(!listed || gE.Revoked, "a restarted plugin did not revoke grant %d of its predecessor", grantE)
	staleE := &pb.ContainerAllocateResponse{Envs: map[string]string{"CONTIG_SOCKET": sock, "CONTIG_GRANT": tokE},
		Mounts: re.ContainerResponses[0].Mounts}
	check(probe("podE-again", staleE) == "EACCES", "E's token works after its devices were re-allocated")
	say("a restarted plugin revokes its predecessor's grants (state file 0600)")
	conn.Close()
	stopPlugin(plugin)

	logData, _ := os.ReadFile(filepath.Join(work, "plugin.log"))
	check(!strings.Contains(string(logData), "panic"), "the plugin panicked")
	say("ok")
}
