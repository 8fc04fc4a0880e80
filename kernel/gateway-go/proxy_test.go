package main

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
)

func TestSignIdentityMatchesTheTypeScriptSigner(t *testing.T) {
	// signIdentity(Buffer.alloc(32, 7), {address, authMethod: "apikey"}, method, 1764115200000)
	// from kernel/sdk/src/identity.ts gives this signature.
	signer := newIdentitySigner(bytes.Repeat([]byte{7}, 32))
	who := identity{Address: "0x00000000000000000000000000000000000000a1", AuthMethod: "apikey"}
	// Another signature first: the HMAC must start again from its key.
	signer.sign(who, "/openledger.examples.v1.EchoService/Concat", 1764115100000)
	signed := signer.sign(who, "/openledger.examples.v1.EchoService/Echo", 1764115200000)
	want := [8]string{
		"x-ol-caller", "0x00000000000000000000000000000000000000a1",
		"x-ol-auth-method", "apikey",
		"x-ol-caller-ts", "1764115200000",
		"x-ol-caller-sig", "982ccf51491885aef6abace7b108cbe7cb7561a64152d5cc8d941184746568c0",
	}
	if signed != want {
		t.Fatalf("got %v, want %v", signed, want)
	}
}

func TestASignatureIsReusedForItsCallerAndMethodOnly(t *testing.T) {
	signer := newIdentitySigner(bytes.Repeat([]byte{7}, 32))
	alice := identity{Address: "0x00000000000000000000000000000000000a11ce", AuthMethod: "apikey"}
	const echo, at = "/openledger.examples.v1.EchoService/Echo", int64(1764115200000)
	first := signer.sign(alice, echo, at)
	if again := signer.sign(alice, echo, at+signatureReuse.Milliseconds()-1); again != first {
		t.Fatalf("not reused within %v: %v", signatureReuse, again)
	}
	fresh := newIdentitySigner(bytes.Repeat([]byte{7}, 32))
	for _, c := range []struct {
		who    identity
		method string
		at     int64
	}{
		{alice, echo, at + signatureReuse.Milliseconds()},
		{alice, echo, at - 1}, // the clock went back
		{alice, "/openledger.examples.v1.EchoService/Sleep", at},
		{identity{Address: alice.Address, AuthMethod: "siwe"}, echo, at},
		{identity{Address: "0x0000000000000000000000000000000000000b0b", AuthMethod: "apikey"}, echo, at},
	} {
		if got, want := signer.sign(c.who, c.method, c.at), fresh.sign(c.who, c.method, c.at); got != want {
			t.Fatalf("%+v: got %v, want a new signature %v", c, got, want)
		}
	}
}

func spanOf(traceparent string) span {
	md := metadata.MD{}
	if traceparent != "" {
		md.Set("traceparent", traceparent)
	}
	return newSpan(md)
}

func TestSpanContinuesAValidTraceparentOnly(t *testing.T) {
	s := spanOf("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
	if s.traceID != "4bf92f3577b34da6a3ce929d0e0e4736" || s.parentID != "00f067aa0ba902b7" || s.flags != "00" {
		t.Fatalf("not continued: %+v", s)
	}
	if len(s.spanID) != 16 || s.spanID == s.parentID {
		t.Fatalf("bad span id %q", s.spanID)
	}
	for _, invalid := range []string{
		"",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01", // all-zero trace id
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // all-zero parent
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // forbidden version
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
		"00-4bf92f35-00f067aa0ba902b7-01",
		"garbage",
	} {
		s := spanOf(invalid)
		if s.parentID != "" || len(s.traceID) != 32 || s.flags != "01" {
			t.Fatalf("%q: expected a new sampled trace, got %+v", invalid, s)
		}
	}
}

func TestRawCodecHandsOnTheBuffersItReceived(t *testing.T) {
	data := mem.BufferSlice{mem.SliceBuffer([]byte("payload"))}
	var f frame
	if err := (rawCodec{}).Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	out, err := (rawCodec{}).Marshal(&f)
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Materialize()) != "payload" || f.data != nil {
		t.Fatalf("got %q, frame still holds %v", out.Materialize(), f.data)
	}
	if _, err := (rawCodec{}).Marshal("not a frame"); err == nil {
		t.Fatal("marshalled a non-frame")
	}
}
