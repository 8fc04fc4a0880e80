package main

import (
	"fmt"

	"google.golang.org/grpc/mem"
)

// frame is one gRPC message kept as the bytes it arrived as: the data plane never decodes a
// plugin's messages, it hands the received buffers on without copying them.
type frame struct {
	data mem.BufferSlice
}

// rawCodec is the codec of every call through the data plane, on both sides.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	f, ok := v.(*frame)
	if !ok {
		return nil, fmt.Errorf("raw codec cannot marshal %T", v)
	}
	// gRPC frees what Marshal returns once written, which gives back the reference Unmarshal took.
	data := f.data
	f.data = nil
	return data, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	f, ok := v.(*frame)
	if !ok {
		return fmt.Errorf("raw codec cannot unmarshal into %T", v)
	}
	data.Ref()
	f.data = data
	return nil
}

// Name is "proto" so that clients and plugins see the content-type they expect.
func (rawCodec) Name() string { return "proto" }
