package main

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Headers that belong to one HTTP/2 hop (gRPC rebuilds them on the next), as in
// kernel/src/gateway/metadata.ts.
var transportHeaders = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "transfer-encoding": true,
	"upgrade": true, "te": true, "host": true, "content-type": true, "content-length": true,
	"user-agent": true, "date": true,
}

func isTransportHeader(name string) bool {
	return strings.HasPrefix(name, ":") || strings.HasPrefix(name, "grpc-") || transportHeaders[name]
}

// forClient is a plugin's response headers or trailers without transport headers (nil when none
// are left, which is the usual case).
func forClient(md metadata.MD) metadata.MD {
	var out metadata.MD
	for name, values := range md {
		if !isTransportHeader(name) {
			if out == nil {
				out = metadata.MD{}
			}
			out[name] = values
		}
	}
	return out
}

type dataPlane struct {
	router  *router
	auth    *authenticator
	kernel  *grpc.ClientConn
	control *control
	report  bool
	// credential headers are the kernel's; never forwarded to a plugin.
	credentialHeaders map[string]bool
}

var streamBoth = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// handle serves every call: plugin methods go straight to the plugin, everything else (the
// kernel's own services, health, reflection, methods not routed yet) to the kernel's gateway.
func (d *dataPlane) handle(_ any, stream grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(stream)
	found, routed := d.router.lookup(method)
	if !routed {
		return d.toKernel(method, stream)
	}
	started := time.Now()
	// The one copy of the incoming metadata this call makes (FromIncomingContext copies); it
	// becomes the plugin's metadata, so it must be a map even for a call that had none (grpc-go
	// 1.85 always has ":authority" in it, but attaches nothing for an empty set).
	md, _ := metadata.FromIncomingContext(stream.Context())
	if md == nil {
		md = metadata.MD{}
	}
	span := newSpan(md)
	err := d.toPlugin(method, found, stream, md, span)
	if d.report {
		st := status.Convert(err)
		d.control.record(callRecord{
			Method: method, Code: int(st.Code()), Message: st.Message(),
			StartUs: started.UnixMicro(), DurationUs: time.Since(started).Microseconds(),
			TraceID: span.traceID, SpanID: span.spanID, ParentID: span.parentID, Sampled: span.flags == "01",
		})
	}
	return err
}

// toPlugin authenticates the call and relays it to its plugin; md is the call's incoming metadata
// (a copy this call owns), which it turns into the plugin's.
func (d *dataPlane) toPlugin(method string, to route, stream grpc.ServerStream, md metadata.MD, span span) error {
	ctx := stream.Context()
	who, refused := d.auth.identify(ctx, method, md)
	if refused != nil {
		return refused.Err()
	}
	p := to.plugin
	if !p.ready {
		reason := p.reason
		if reason == "" {
			reason = "not ready"
		}
		return status.Error(codes.Unavailable, "plugin "+p.name+" is unavailable: "+reason)
	}
	for name := range md {
		if isTransportHeader(name) || strings.HasPrefix(name, reservedPrefix) || d.credentialHeaders[name] {
			delete(md, name)
		}
	}
	signed := p.signer.sign(who, method, time.Now().UnixMilli())
	for i := 0; i < len(signed); i += 2 {
		md[signed[i]] = []string{signed[i+1]}
	}
	md["traceparent"] = []string{span.traceparent()}
	upCtx, cancel := upstreamContext(ctx, md)
	defer cancel()
	if to.unary {
		return d.relayUnary(upCtx, p, method, stream)
	}
	return d.relayStream(upCtx, p, method, stream, true)
}

// returnHop is taken off the deadline the upstream gets. grpc-go resets a call with CANCEL when its
// deadline passes; ending the upstream call a little earlier lets the data plane send the client
// DEADLINE_EXCEEDED itself instead, as the client would see calling the plugin directly.
const returnHop = 5 * time.Millisecond

// upstreamContext is the context of the upstream call: the client's cancellation, its deadline less
// the return hop, and the metadata to send.
func upstreamContext(ctx context.Context, md metadata.MD) (context.Context, context.CancelFunc) {
	ctx = metadata.NewOutgoingContext(ctx, md)
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, deadline.Add(-returnHop))
	}
	return ctx, func() {}
}

// toKernel hands the call to the kernel's gateway as it came (credentials included: the kernel
// authenticates its own services).
func (d *dataPlane) toKernel(method string, stream grpc.ServerStream) error {
	ctx := stream.Context()
	md, _ := metadata.FromIncomingContext(ctx)
	out := make(metadata.MD, len(md))
	for name, values := range md {
		if !isTransportHeader(name) {
			out[name] = values
		}
	}
	upCtx, cancel := upstreamContext(ctx, out)
	defer cancel()
	return d.relayStream(upCtx, nil, method, stream, false)
}

// upstreamStatus is the status the client gets for an upstream failure: UNAVAILABLE before any
// response header means the plugin could not be reached, and then it is named.
func upstreamStatus(p *plugin, err error, headersSeen bool) error {
	st := status.Convert(err)
	if p == nil || st.Code() != codes.Unavailable || headersSeen {
		return st.Err()
	}
	proto := st.Proto()
	proto.Message = "plugin " + p.name + " is unavailable: " + proto.Message
	return status.FromProto(proto).Err()
}

func (d *dataPlane) relayUnary(ctx context.Context, p *plugin, method string, stream grpc.ServerStream) error {
	var request, response frame
	if err := stream.RecvMsg(&request); err != nil {
		return err
	}
	var header, trailer metadata.MD
	err := p.conn.Invoke(ctx, method, &request, &response, grpc.Header(&header), grpc.Trailer(&trailer))
	request.data.Free()
	if len(header) > 0 {
		stream.SetHeader(forClient(header))
	}
	if trailer := forClient(trailer); len(trailer) > 0 {
		stream.SetTrailer(trailer)
	}
	if err != nil {
		return upstreamStatus(p, err, len(header) > 0)
	}
	return stream.SendMsg(&response)
}

// relayStream relays a call of any kind with flow control both ways: each side's next message is
// read once the other side took the previous one.
func (d *dataPlane) relayStream(ctx context.Context, p *plugin, method string, stream grpc.ServerStream, toPlugin bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conn := d.kernel
	if toPlugin {
		conn = p.conn
	}
	upstream, err := grpc.NewClientStream(ctx, streamBoth, conn, method)
	if err != nil {
		return upstreamStatus(p, err, false)
	}
	go func() {
		for {
			var message frame
			if err := stream.RecvMsg(&message); err != nil {
				if errors.Is(err, io.EOF) {
					upstream.CloseSend()
				} else {
					cancel()
				}
				return
			}
			if err := upstream.SendMsg(&message); err != nil {
				message.data.Free()
				return // the upstream call ended; its status is read below
			}
		}
	}()
	headersSeen := false
	if header, err := upstream.Header(); err == nil && header != nil {
		headersSeen = true
		if err := stream.SendHeader(forClient(header)); err != nil {
			return err
		}
	}
	for {
		var message frame
		err := upstream.RecvMsg(&message)
		if err != nil {
			stream.SetTrailer(forClient(upstream.Trailer()))
			if errors.Is(err, io.EOF) {
				return nil
			}
			return upstreamStatus(p, err, headersSeen)
		}
		if err := stream.SendMsg(&message); err != nil {
			return err
		}
	}
}

// span is the data plane's span of one call: a child of the client's traceparent (or a new trace),
// handed to the plugin as its parent.
type span struct {
	traceID, spanID, parentID, flags string
}

// randomHex is n random bytes in hex: span and trace ids need to be unique, not secret, so the
// runtime's fast generator does (as OpenTelemetry's own generators do).
func randomHex(n int) string {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := rand.Uint64()
		for j := i; j < n && j < i+8; j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
	return hex.EncodeToString(b)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// newSpan is the span of a call with incoming metadata md.
func newSpan(md metadata.MD) span {
	s := span{spanID: randomHex(8), flags: "01"}
	if values := md["traceparent"]; len(values) > 0 {
		// version-traceid-parentid-flags (W3C Trace Context); an invalid one starts a new trace.
		parts := strings.Split(values[0], "-")
		if len(parts) >= 4 && len(parts[0]) == 2 && parts[0] != "ff" && len(parts[1]) == 32 && len(parts[2]) == 16 && len(parts[3]) == 2 &&
			isLowerHex(parts[0]+parts[1]+parts[2]+parts[3]) && strings.Trim(parts[1], "0") != "" && strings.Trim(parts[2], "0") != "" {
			s.traceID, s.parentID = parts[1], parts[2]
			s.flags = "0" + string("01"[hexBit(parts[3])])
		}
	}
	if s.traceID == "" {
		s.traceID = randomHex(16)
	}
	return s
}

// hexBit is the sampled bit of W3C trace flags.
func hexBit(flags string) int {
	b, _ := hex.DecodeString(flags)
	return int(b[0] & 1)
}

func (s span) traceparent() string {
	return "00-" + s.traceID + "-" + s.spanID + "-" + s.flags
}
