#!/usr/bin/env node
// Generates TypeScript from proto/ into kernel/sdk/src/gen (ts-proto, via buf), a binary
// FileDescriptorSet (kernel/sdk/src/gen/descriptors.binpb) used for reflection, and the Python
// stubs (grpcio-tools from .tools/venv) into .tools/gen/python for the Python plugin and client
// examples. All git-ignored; never edit the output.
const { execFileSync } = require("node:child_process");
const { rmSync, mkdirSync, readdirSync } = require("node:fs");
const path = require("node:path");
const root = path.resolve(__dirname, "..");
const out = path.join(root, "kernel/sdk/src/gen");
const buf = path.join(root, "node_modules/.bin/buf");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
execFileSync(buf, ["lint"], { cwd: root, stdio: "inherit" });
execFileSync(buf, ["generate"], { cwd: root, stdio: "inherit" });
execFileSync(buf, ["build", "-o", path.join(out, "descriptors.binpb")], { cwd: root, stdio: "inherit" });

const python = path.join(root, ".tools/venv/bin/python");
const pythonOut = path.join(root, ".tools/gen/python");
const protoRoot = path.join(root, "proto");
const protos = readdirSync(protoRoot, { recursive: true }).filter((f) => String(f).endsWith(".proto"));
rmSync(pythonOut, { recursive: true, force: true });
mkdirSync(pythonOut, { recursive: true });
execFileSync(python, ["-m", "grpc_tools.protoc", `-I${protoRoot}`, `--python_out=${pythonOut}`, `--grpc_python_out=${pythonOut}`, ...protos], {
  cwd: root,
  stdio: "inherit",
});
