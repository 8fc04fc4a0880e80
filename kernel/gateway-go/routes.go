package main

import (
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Flow-control windows of every connection, both sides: fixed (no BDP pings), large enough that
// a 16 MiB message streams without waiting on a window update per 64 KiB.
const (
	windowBytes     = 4 << 20
	connWindowBytes = 16 << 20
)

type plugin struct {
	name    string
	address string
	signer  *identitySigner
	ready   bool
	reason  string
	conn    *grpc.ClientConn
}

type route struct {
	plugin *plugin
	unary  bool
}

// routeTable maps a method path to its plugin; replaced whole on each update, read without locks.
type routeTable map[string]route

type router struct {
	table atomic.Pointer[routeTable]

	mu         sync.Mutex // serialises updates
	plugins    map[string]*plugin
	maxReceive int
	maxSend    int
}

func newRouter(maxReceive, maxSend int) *router {
	r := &router{plugins: map[string]*plugin{}, maxReceive: maxReceive, maxSend: maxSend}
	empty := routeTable{}
	r.table.Store(&empty)
	return r
}

// dial makes the data plane's connection to a plugin or to the kernel's gateway: raw-bytes codec,
// the data plane's message size limits (maxReceive: a request it accepts, maxSend: a response it
// may send; one over them is refused as it arrives).
func dial(address string, maxReceive, maxSend int) (*grpc.ClientConn, error) {
	return grpc.NewClient(address,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// Fixed windows turn off BDP estimation, whose pings cost the plugin a wake-up per call.
		grpc.WithInitialWindowSize(windowBytes),
		grpc.WithInitialConnWindowSize(connWindowBytes),
		grpc.WithDefaultCallOptions(
			grpc.ForceCodecV2(rawCodec{}),
			grpc.MaxCallRecvMsgSize(maxSend),
			grpc.MaxCallSendMsgSize(maxReceive),
		),
	)
}

func (r *router) lookup(method string) (route, bool) {
	found, ok := (*r.table.Load())[method]
	return found, ok
}

// update applies a "routes" message: keeps one connection per plugin, made anew when its address
// changes; a plugin that becomes ready again reconnects at once instead of after its backoff.
func (r *router) update(message *inbound) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := map[string]*plugin{}
	for _, p := range message.Plugins {
		credential, err := hex.DecodeString(p.Credential)
		if err != nil {
			return fmt.Errorf("plugin %s: credential is not hex: %w", p.Name, err)
		}
		current := &plugin{name: p.Name, address: p.Address, signer: newIdentitySigner(credential), ready: p.Ready, reason: p.Reason}
		previous := r.plugins[p.Name]
		if previous != nil && previous.address == p.Address && previous.conn != nil {
			current.conn = previous.conn
			if current.ready && !previous.ready {
				current.conn.ResetConnectBackoff()
			}
		} else {
			if previous != nil && previous.conn != nil {
				previous.conn.Close()
			}
			if current.conn, err = dial(p.Address, r.maxReceive, r.maxSend); err != nil {
				// Kept routed: its calls are refused as UNAVAILABLE with this reason.
				current.ready = false
				current.reason = "cannot connect to " + p.Address + ": " + err.Error()
			}
		}
		next[p.Name] = current
	}
	for name, previous := range r.plugins {
		if _, kept := next[name]; !kept && previous.conn != nil {
			previous.conn.Close()
		}
	}
	table := routeTable{}
	for _, m := range message.Methods {
		if p := next[m.Plugin]; p != nil {
			table[m.Path] = route{plugin: p, unary: m.Unary}
		}
	}
	r.plugins = next
	r.table.Store(&table)
	return nil
}

func (r *router) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.plugins {
		if p.conn != nil {
			p.conn.Close()
		}
	}
}
