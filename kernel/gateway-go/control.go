package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The control channel to the kernel: JSON lines over a Unix socket the kernel listens on.
// Kernel -> data plane: "routes", "invalidate", "resolved". Data plane -> kernel: "applied",
// "resolve", "calls". The protocol is described in README.md.

type pluginMessage struct {
	Name       string `json:"name"`
	Address    string `json:"address"`
	Credential string `json:"credential"` // hex
	Ready      bool   `json:"ready"`
	Reason     string `json:"reason"`
}

type methodMessage struct {
	Path   string `json:"path"`
	Plugin string `json:"plugin"`
	// Unary: neither side streams (the data plane then relays with one Invoke).
	Unary bool `json:"unary"`
}

type inbound struct {
	Type string `json:"type"`
	// routes
	Plugins []pluginMessage `json:"plugins"`
	Methods []methodMessage `json:"methods"`
	// routes, invalidate: acknowledged with {"type":"applied","version":...} once in effect
	Version uint64 `json:"version"`
	// resolved
	ID       uint64    `json:"id"`
	Identity *identity `json:"identity"`
	Code     int       `json:"code"`
	Message  string    `json:"message"`
}

type appliedMessage struct {
	Type    string `json:"type"`
	Version uint64 `json:"version"`
}

type resolveMessage struct {
	Type    string              `json:"type"`
	ID      uint64              `json:"id"`
	Method  string              `json:"method"`
	Headers map[string][]string `json:"headers"`
}

// callRecord is one relayed call, reported to the kernel for its metrics and spans.
type callRecord struct {
	Method string `json:"method"`
	Code   int    `json:"code"`
	// Message is the status message of a failed call.
	Message string `json:"message,omitempty"`
	// StartUs is the Unix time the call arrived, in µs; DurationUs how long it took.
	StartUs    int64  `json:"startUs"`
	DurationUs int64  `json:"durationUs"`
	TraceID    string `json:"traceId"`
	SpanID     string `json:"spanId"`
	ParentID   string `json:"parentSpanId,omitempty"`
	Sampled    bool   `json:"sampled"`
}

type callsMessage struct {
	Type  string       `json:"type"`
	Calls []callRecord `json:"calls"`
}

type resolution struct {
	who *identity
	err *status.Status
}

type control struct {
	conn    net.Conn
	writeMu sync.Mutex
	writer  *bufio.Writer

	pendingMu sync.Mutex
	nextID    uint64
	pending   map[uint64]chan resolution

	callsMu sync.Mutex
	calls   []callRecord

	done chan struct{}
}

func dialControl(path string) (*control, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the kernel's control socket %s: %w", path, err)
	}
	return &control{conn: conn, writer: bufio.NewWriter(conn), pending: map[uint64]chan resolution{}, done: make(chan struct{})}, nil
}

func (c *control) send(message any) error {
	line, err := json.Marshal(message)
	if err != nil {
		return err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.writer.Write(line)
	c.writer.WriteByte('\n')
	return c.writer.Flush()
}

// run reads the kernel's messages until the connection closes (the kernel stopped or died), then
// closes done.
func (c *control) run(onRoutes func(*inbound), onInvalidate func()) error {
	defer close(c.done)
	scanner := bufio.NewScanner(c.conn)
	scanner.Buffer(make([]byte, 64*1024), 256*1024*1024)
	for scanner.Scan() {
		var message inbound
		if err := json.Unmarshal(scanner.Bytes(), &message); err != nil {
			return fmt.Errorf("undecodable control message: %w", err)
		}
		switch message.Type {
		case "routes":
			onRoutes(&message)
			c.send(appliedMessage{Type: "applied", Version: message.Version})
		case "invalidate":
			onInvalidate()
			c.send(appliedMessage{Type: "applied", Version: message.Version})
		case "resolved":
			c.pendingMu.Lock()
			waiter := c.pending[message.ID]
			delete(c.pending, message.ID)
			c.pendingMu.Unlock()
			if waiter == nil {
				continue
			}
			if message.Identity != nil {
				waiter <- resolution{who: message.Identity}
			} else {
				waiter <- resolution{err: status.New(codes.Code(message.Code), message.Message)}
			}
		default:
			return fmt.Errorf("unknown control message type %q", message.Type)
		}
	}
	return scanner.Err()
}

// resolve asks the kernel who the caller of method with these credential headers is.
func (c *control) resolve(ctx context.Context, method string, headers map[string][]string) (*identity, *status.Status) {
	waiter := make(chan resolution, 1)
	c.pendingMu.Lock()
	c.nextID++
	id := c.nextID
	c.pending[id] = waiter
	c.pendingMu.Unlock()
	forget := func() {
		c.pendingMu.Lock()
		delete(c.pending, id)
		c.pendingMu.Unlock()
	}
	if err := c.send(resolveMessage{Type: "resolve", ID: id, Method: method, Headers: headers}); err != nil {
		forget()
		return nil, status.New(codes.Unavailable, "the kernel cannot authenticate calls now: "+err.Error())
	}
	select {
	case answer := <-waiter:
		return answer.who, answer.err
	case <-ctx.Done():
		forget()
		return nil, status.FromContextError(ctx.Err())
	case <-c.done:
		return nil, status.New(codes.Unavailable, "the kernel stopped")
	}
}

func (c *control) record(call callRecord) {
	c.callsMu.Lock()
	c.calls = append(c.calls, call)
	c.callsMu.Unlock()
}

// reportCalls sends the recorded calls in one message every interval, until done.
func (c *control) reportCalls(interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-ticker.C:
			c.flushCalls()
		}
	}
}

func (c *control) flushCalls() {
	c.callsMu.Lock()
	calls := c.calls
	c.calls = nil
	c.callsMu.Unlock()
	if len(calls) > 0 {
		c.send(callsMessage{Type: "calls", Calls: calls})
	}
}
