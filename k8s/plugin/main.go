// SPDX-License-Identifier: MIT
//
// contig-device-plugin - contigd's pool as a Kubernetes extended resource,
// through the kubelet device plugin API v1beta1 (see k8s/api/v1beta1).
//
//	contig-device-plugin [--plugin-dir DIR] [--contigd-socket PATH]
//	                     [--resource NAME] [--unit SIZE] ...
//
// Life cycle: serve DIR/contig.sock, register with DIR/kubelet.sock, then
// wait. A kubelet that restarts deletes every socket in DIR and creates a
// new kubelet.sock; the plugin sees that (inotify on DIR, and a check every
// few seconds in case an event is missed), serves again and re-registers.
// SIGTERM or SIGINT: streams end, the server stops, contig.sock is removed,
// exit 0. Grants are left alone: the pods that hold them keep running.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"google.golang.org/grpc"
	pb "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

const (
	apiVersion   = "v1beta1"
	endpoint     = "contig.sock"
	kubeletSock  = "kubelet.sock"
	recheckEvery = 5 * time.Second
)

var (
	argPluginDir = flag.String("plugin-dir", "/var/lib/kubelet/device-plugins", "the kubelet's device plugin directory")
	argSocket    = flag.String("contigd-socket", "/run/contigd/contigd.sock", "contigd's socket (the same path on the host and in containers)")
	argResource  = flag.String("resource", "contig.io/dma-2Mi", "extended resource name")
	argUnit      = flag.String("unit", "2M", "bytes of one device (K, M, G suffixes, powers of 1024)")
	argContigctl = flag.String("contigctl", "", "contigctl to run (default: contigctl in PATH, else /usr/sbin/contigctl)")
	argHealth    = flag.Duration("health-interval", 2*time.Second, "how often contigd's health and pool size are polled")
	argState     = flag.String("state", "/var/lib/contig-device-plugin/grants.json", "where grant bindings are kept across restarts (\"\": memory only)")
	argCDIDevice = flag.String("cdi-device", "", "answer Allocate with this CDI device (e.g. contig.io/dma=default) instead of a mount and CONTIG_SOCKET")
)

// parseSize reads "2M", "2Mi", "2MiB", "1G", "4096".
func parseSize(s string) (uint64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "B"), "I")
	mult := uint64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || n == 0 || n > (1<<44)/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

func findContigctl() string {
	if *argContigctl != "" {
		return *argContigctl
	}
	if p, err := exec.LookPath("contigctl"); err == nil {
		return p
	}
	return "/usr/sbin/contigctl"
}

func unixDialer(ctx context.Context, addr string) (net.Conn, error) {
	return (&net.Dialer{}).DialContext(ctx, "unix", addr)
}

// serve starts the DevicePlugin service on DIR/contig.sock.
func serve(p *plugin, dir string) (*grpc.Server, error) {
	path := filepath.Join(dir, endpoint)
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer()
	pb.RegisterDevicePluginServer(srv, p)
	go func() {
		if err := srv.Serve(l); err != nil {
			log.Printf("serve %s: %v", path, err)
		}
	}()
	return srv, nil
}

// register announces the plugin to the kubelet once.
func register(dir, resource string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// No kubelet listening (ENOENT, ECONNREFUSED) fails at once: the
	// caller tries again when kubelet.sock appears.
	conn, err := grpc.DialContext(ctx, filepath.Join(dir, kubeletSock), grpc.WithInsecure(),
		grpc.WithBlock(), grpc.FailOnNonTempDialError(true), grpc.WithContextDialer(unixDialer))
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = pb.NewRegistrationClient(conn).Register(ctx, &pb.RegisterRequest{
		Version:      apiVersion,
		Endpoint:     endpoint,
		ResourceName: resource,
		Options:      &pb.DevicePluginOptions{GetPreferredAllocationAvailable: true},
	})
	return err
}

// dirEvent: a file named kubelet.sock or contig.sock appeared in the
// plugin directory (created) or left it.
type dirEvent struct {
	name    string
	created bool
}

// watchDir sends a dirEvent for each such change in dir (inotify(7)); nil if
// inotify is not available, and the periodic check does the work alone.
func watchDir(dir string) <-chan dirEvent {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
	if err != nil {
		log.Printf("inotify: %v (checking %s every %v instead)", err, dir, recheckEvery)
		return nil
	}
	mask := uint32(syscall.IN_CREATE | syscall.IN_DELETE | syscall.IN_MOVED_TO | syscall.IN_MOVED_FROM)
	if _, err := syscall.InotifyAddWatch(fd, dir, mask); err != nil {
		log.Printf("inotify on %s: %v (checking every %v instead)", dir, err, recheckEvery)
		syscall.Close(fd)
		return nil
	}
	ch := make(chan dirEvent, 16)
	go func() {
		buf := make([]byte, 64*(syscall.SizeofInotifyEvent+syscall.NAME_MAX+1))
		for {
			n, err := syscall.Read(fd, buf)
			if err != nil {
				if err == syscall.EINTR {
					continue
				}
				log.Printf("inotify read: %v", err)
				return
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
				off += syscall.SizeofInotifyEvent + int(ev.Len)
				s := strings.TrimRight(string(name), "\x00")
				if s == kubeletSock || s == endpoint {
					select {
					case ch <- dirEvent{s, ev.Mask&(syscall.IN_CREATE|syscall.IN_MOVED_TO) != 0}:
					default:
					}
				}
			}
		}
	}()
	return ch
}

// fileID tells one file at path from the next: inode and change time (an
// inode number alone can be reused at once); zero when there is none.
type fileID struct {
	ino   uint64
	ctime syscall.Timespec
}

func idOf(path string) fileID {
	var st syscall.Stat_t
	if syscall.Stat(path, &st) != nil {
		return fileID{}
	}
	return fileID{st.Ino, st.Ctim}
}

func run() error {
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", flag.Arg(0))
	}
	unit, err := parseSize(*argUnit)
	if err != nil {
		return fmt.Errorf("--unit: %v", err)
	}
	if unit%4096 != 0 {
		return fmt.Errorf("--unit: %d is not a multiple of 4 KiB", unit)
	}
	if !strings.Contains(*argResource, "/") {
		return fmt.Errorf("--resource: %q is not DOMAIN/NAME", *argResource)
	}
	if !filepath.IsAbs(*argSocket) {
		return fmt.Errorf("--contigd-socket: %q is not an absolute path", *argSocket)
	}
	if *argHealth <= 0 {
		return errors.New("--health-interval must be positive")
	}
	dir := *argPluginDir
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("--plugin-dir %s: not a directory", dir)
	}
	grants, err := loadBindings(*argState)
	if err != nil {
		return fmt.Errorf("--state: %v", err)
	}
	ctl := &contigctl{bin: findContigctl(), socket: *argSocket}
	p := newPlugin(unit, *argSocket, *argCDIDevice, ctl, grants)
	p.refresh()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	events := watchDir(dir)
	go func() {
		for {
			select {
			case <-time.After(*argHealth):
				p.refresh()
			case <-p.stop:
				return
			}
		}
	}()

	var srv *grpc.Server
	var registeredTo fileID // the kubelet.sock registered with
	own := filepath.Join(dir, endpoint)
	kubelet := filepath.Join(dir, kubeletSock)
	restart := true
	lastErr := ""
	var backoff time.Duration
	for {
		if restart {
			if srv != nil {
				srv.Stop()
			}
			if srv, err = serve(p, dir); err != nil {
				return fmt.Errorf("serve %s: %v", own, err)
			}
			registeredTo, restart = fileID{}, false
		}
		wait := recheckEvery
		if registeredTo == (fileID{}) {
			wait = time.Second
		}
		if id := idOf(kubelet); registeredTo == (fileID{}) && id != (fileID{}) {
			t0 := time.Now()
			if err := register(dir, *argResource); err != nil {
				if err.Error() != lastErr {
					log.Printf("register with %s: %v (retrying)", kubelet, err)
					lastErr = err.Error()
				}
				// 10 ms (kubelet.sock is bound before it listens),
				// doubling to 8 s: a kubelet that refuses is not
				// asked again and again.
				backoff = 2*backoff + 10*time.Millisecond
				if backoff > 8*time.Second {
					backoff = 8 * time.Second
				}
				wait = backoff
			} else {
				backoff = 0
				log.Printf("registered %s with %s (version %s, endpoint %s) in %v",
					*argResource, kubelet, apiVersion, endpoint, time.Since(t0).Round(time.Microsecond))
				registeredTo, lastErr = id, ""
			}
		}
		select {
		case <-sigs:
			log.Printf("stopping")
			close(p.stop)
			done := make(chan struct{})
			go func() { srv.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				srv.Stop()
			}
			os.Remove(own)
			return nil
		case ev := <-events:
			// A new kubelet.sock is a new kubelet, which has wiped the
			// directory and knows no plugin; a contig.sock gone (and not
			// by our own hand: serve removes it first) is the same news.
			// Not registered yet: the loop registers now.
			if ev.name == kubeletSock && ev.created && registeredTo != (fileID{}) &&
				idOf(kubelet) != registeredTo {
				log.Printf("%s created: the kubelet restarted", kubelet)
				restart = true
			}
			if ev.name == endpoint && !ev.created && idOf(own) == (fileID{}) {
				log.Printf("%s removed", own)
				restart = true
			}
		case <-time.After(wait):
			k := idOf(kubelet)
			if idOf(own) == (fileID{}) || (registeredTo != (fileID{}) && k != (fileID{}) && k != registeredTo) {
				restart = true
			}
		}
	}
}

func main() {
	log.SetPrefix("contig-device-plugin: ")
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	if err := run(); err != nil {
		log.Printf("%v", err)
		os.Exit(1)
	}
}
