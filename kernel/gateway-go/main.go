// ol-gateway: the kernel's data plane. It serves the kernel's public gRPC port, relays plugin
// calls straight to the plugins as raw bytes (authenticated through the kernel, identity signed,
// metadata cleaned) and hands every other call to the kernel's own gateway. The kernel starts it
// and drives it over a control socket; it exits when that socket closes.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

type settings struct {
	listen, upstream, control string
	maxReceive, maxSend       int
	keepaliveTime             time.Duration
	keepaliveTimeout          time.Duration
	minPingInterval           time.Duration
	maxConnectionIdle         time.Duration
	maxConnectionAge          time.Duration
	credentialHeaders         string
	authCache, reportInterval time.Duration
	grace                     time.Duration
}

func parseSettings(args []string) (settings, error) {
	var s settings
	flags := flag.NewFlagSet("ol-gateway", flag.ContinueOnError)
	flags.StringVar(&s.listen, "listen", "", `public address: "host:port" (port 0: any) or "unix:/path"`)
	flags.StringVar(&s.upstream, "upstream", "", `the kernel's gateway, e.g. "unix:/path"`)
	flags.StringVar(&s.control, "control", "", "path of the kernel's control socket")
	flags.IntVar(&s.maxReceive, "max-receive-bytes", 16<<20, "largest request message")
	flags.IntVar(&s.maxSend, "max-send-bytes", 16<<20, "largest response message")
	flags.DurationVar(&s.keepaliveTime, "keepalive-time", 2*time.Hour, "ping a client connection idle this long")
	flags.DurationVar(&s.keepaliveTimeout, "keepalive-timeout", 20*time.Second, "close it when the ping is not answered in this")
	flags.DurationVar(&s.minPingInterval, "min-ping-interval", 5*time.Minute, "closer client pings close the connection")
	flags.DurationVar(&s.maxConnectionIdle, "max-connection-idle", 0, "close connections idle this long (0: never)")
	flags.DurationVar(&s.maxConnectionAge, "max-connection-age", 0, "gracefully close connections this old (0: never)")
	flags.StringVar(&s.credentialHeaders, "credential-headers", "authorization,cookie,x-api-key", "request headers with the caller's credential (comma-separated)")
	flags.DurationVar(&s.authCache, "auth-cache", time.Second, "how long the kernel's answer for a credential is reused")
	flags.DurationVar(&s.reportInterval, "report-calls", 0, "send the kernel a record of each call this often (0: never)")
	flags.DurationVar(&s.grace, "grace", 5*time.Second, "time calls in flight get to finish when stopping")
	if err := flags.Parse(args); err != nil {
		return s, err
	}
	if s.listen == "" || s.upstream == "" || s.control == "" {
		return s, fmt.Errorf("--listen, --upstream and --control are required")
	}
	if s.maxReceive <= 0 || s.maxSend <= 0 {
		return s, fmt.Errorf("message size limits must be positive")
	}
	return s, nil
}

// streamWorkers is how many goroutines serve calls (idle ones cost a small stack each).
const streamWorkers = 64

func listen(address string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(address, "unix:"); ok {
		return net.Listen("unix", path)
	}
	return net.Listen("tcp", address)
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("ol-gateway: ")
	// The heap is small and mostly short-lived call buffers: collect less often, for less CPU per call.
	debug.SetGCPercent(400)
	s, err := parseSettings(os.Args[1:])
	if err != nil {
		log.Fatal(err)
	}
	if path := os.Getenv("OL_GATEWAY_CPUPROFILE"); path != "" {
		// For bench/gateway: a pprof CPU profile of the whole run, written at exit.
		file, err := os.Create(path)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(file)
		defer pprof.StopCPUProfile()
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// The data plane shares the host with the kernel and the plugins it relays to. On two
		// shared cores, one P measured 55 µs of CPU per relayed call against 77 µs with two (the
		// goroutine hand-offs between threads cost more than the parallelism gives back).
		runtime.GOMAXPROCS(max(1, runtime.NumCPU()/4))
	}
	ctl, err := dialControl(s.control)
	if err != nil {
		log.Fatal(err)
	}
	kernel, err := dial(s.upstream, s.maxReceive, s.maxSend)
	if err != nil {
		log.Fatalf("upstream %s: %v", s.upstream, err)
	}
	credentialHeaders := map[string]bool{}
	var credentialList []string
	for _, name := range strings.Split(s.credentialHeaders, ",") {
		if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
			credentialHeaders[name] = true
			credentialList = append(credentialList, name)
		}
	}
	plane := &dataPlane{
		router:            newRouter(s.maxReceive, s.maxSend),
		auth:              newAuthenticator(ctl, credentialList, s.authCache),
		kernel:            kernel,
		control:           ctl,
		report:            s.reportInterval > 0,
		credentialHeaders: credentialHeaders,
	}
	server := grpc.NewServer(
		grpc.UnknownServiceHandler(plane.handle),
		// Calls run on long-lived goroutines instead of a new one each, whose stack grew from 2 KiB
		// on every call (~10% of the CPU in pprof). A worker waits for the plugin during its call,
		// so there are as many workers as calls usually in flight; past that, grpc-go starts goroutines.
		grpc.NumStreamWorkers(streamWorkers),
		grpc.ForceServerCodecV2(rawCodec{}),
		grpc.MaxRecvMsgSize(s.maxReceive),
		grpc.MaxSendMsgSize(s.maxSend),
		grpc.InitialWindowSize(windowBytes),
		grpc.InitialConnWindowSize(connWindowBytes),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time: s.keepaliveTime, Timeout: s.keepaliveTimeout,
			MaxConnectionIdle: s.maxConnectionIdle, MaxConnectionAge: s.maxConnectionAge,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: s.minPingInterval, PermitWithoutStream: true}),
	)
	listener, err := listen(s.listen)
	if errors.Is(err, syscall.EADDRINUSE) {
		log.Fatalf("cannot listen on %s: EADDRINUSE, the port is in use", s.listen)
	} else if err != nil {
		log.Fatalf("cannot listen on %s: %v", s.listen, err)
	}
	controlErr := make(chan error, 1)
	go func() {
		controlErr <- ctl.run(func(m *inbound) {
			if err := plane.router.update(m); err != nil {
				log.Printf("routes refused: %v", err)
			}
			// Public methods may have changed with the plugins.
			plane.auth.invalidate()
		}, plane.auth.invalidate)
	}()
	if plane.report {
		go ctl.reportCalls(s.reportInterval)
	}
	go func() {
		if err := server.Serve(listener); err != nil {
			log.Fatalf("serve: %v", err)
		}
	}()
	bound := listener.Addr().String()
	if listener.Addr().Network() == "unix" {
		bound = "unix:" + bound
	}
	// The kernel waits for this line.
	fmt.Printf("ol-gateway listening on %s\n", bound)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err := <-controlErr:
		if err != nil {
			log.Printf("control channel: %v", err)
		}
	case <-signals:
	}
	stopped := make(chan struct{})
	go func() {
		server.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(s.grace):
		server.Stop()
	}
	if plane.report {
		ctl.flushCalls()
	}
	plane.router.close()
	kernel.Close()
}
