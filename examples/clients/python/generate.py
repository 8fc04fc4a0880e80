#!/usr/bin/env python3
"""Generates the Python gRPC stubs of the EchoService from proto/ (grpcio-tools).

Usage: generate.py [OUT_DIR]   (default: ./gen next to this file; git-ignored)
"""
import os
import sys

from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "..", "proto"))
PROTOS = ["openledger/examples/v1/echo.proto"]


def generate(out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    args = ["grpc_tools.protoc", f"-I{PROTO_ROOT}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *PROTOS]
    if protoc.main(args) != 0:
        raise SystemExit(f"protoc failed for {PROTOS}")


if __name__ == "__main__":
    generate(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "gen"))
