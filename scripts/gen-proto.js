#!/usr/bin/env node
// Generates TypeScript from proto/ into kernel/sdk/src/gen (ts-proto, via buf), and a binary
// FileDescriptorSet (kernel/sdk/src/gen/descriptors.binpb) used for reflection. Never edit the output.
const { execFileSync } = require("node:child_process");
const { rmSync, mkdirSync } = require("node:fs");
const path = require("node:path");
const root = path.resolve(__dirname, "..");
const out = path.join(root, "kernel/sdk/src/gen");
const buf = path.join(root, "node_modules/.bin/buf");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
execFileSync(buf, ["lint"], { cwd: root, stdio: "inherit" });
execFileSync(buf, ["generate"], { cwd: root, stdio: "inherit" });
execFileSync(buf, ["build", "-o", path.join(out, "descriptors.binpb")], { cwd: root, stdio: "inherit" });
