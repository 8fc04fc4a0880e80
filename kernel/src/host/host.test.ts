// The plugin host against real plugin processes (the echo-ts example plugin, built by tsc).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { transformFileSync } from "@swc/core";
import * as protoLoader from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthServiceDefinition, HealthStatusBoard, ServingStatus, examplesV1, freePort, signIdentity, type Identity } from "@openledger/sdk";
import type { PluginRuntime } from "../types";
import { PluginHost, type HostLogger, type PluginHostOptions } from "./host";
import { fileDescriptorName } from "./probe";
import { buildEchoTsPlugin } from "./__tests__/testing";

const ROOT = resolve(__dirname, "../../..");
const ECHO_TS = join(ROOT, "plugins/examples/echo-ts");
const ECHO_MAIN = join(ECHO_TS, "dist/main.js");
const ECHO_SERVICE = "openledger.examples.v1.EchoService";
const ALICE: Identity = { address: "0x00000000000000000000000000000000000a11ce", authMethod: "apikey" };

const scratch = mkdtempSync(join(tmpdir(), "ol-host-test-"));
const hosts: PluginHost[] = [];

beforeAll(() => {
  buildEchoTsPlugin();
}, 120000);

afterEach(async () => {
  await Promise.all(hosts.splice(0).map((host) => host.stop()));
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A plugin directory whose plugin.json is `manifest` (echo-ts's, with `overrides`). */
function pluginDir(name: string, overrides: Record<string, unknown> = {}): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  const manifest = {
    ...JSON.parse(readFileSync(join(ECHO_TS, "plugin.json"), "utf8")),
    name,
    command: ["node", ECHO_MAIN],
    ...overrides,
  };
  writeFileSync(join(dir, "plugin.json"), JSON.stringify(manifest));
  return dir;
}

interface LogEntry {
  level: keyof HostLogger;
  fields: Record<string, unknown>;
  message?: string;
}

function capturingLogger(entries: LogEntry[]): HostLogger {
  const at = (level: keyof HostLogger) => (fields: object, message?: string) => entries.push({ level, fields: fields as Record<string, unknown>, message });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

function newHost(pluginDirs: string[], options: Partial<PluginHostOptions> = {}): PluginHost {
  const host = new PluginHost({
    pluginDirs,
    dataDir: join(scratch, "data"),
    initialBackoffMs: 50,
    startTimeoutMs: 20000,
    logger: capturingLogger([]),
    ...options,
  });
  hosts.push(host);
  return host;
}

function echo(plugin: PluginRuntime, message: string): Promise<examplesV1.EchoResponse> {
  const client = new examplesV1.EchoServiceClient(plugin.address, grpc.credentials.createInsecure());
  const metadata = grpc.Metadata.fromHttp2Headers(signIdentity(plugin.credential, ALICE, "/openledger.examples.v1.EchoService/Echo"));
  return new Promise((resolvePromise, reject) => {
    client.echo({ message, payload: Buffer.alloc(0) }, metadata, { deadline: Date.now() + 10000 }, (err, response) => {
      client.close();
      if (err) reject(err);
      else resolvePromise(response);
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function eventually(check: () => boolean, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("starts a plugin, verifies it, exposes its descriptors, forwards its logs, and routes calls to it", async () => {
  const logs: LogEntry[] = [];
  const host = newHost([ECHO_TS], { logger: capturingLogger(logs), configs: { "echo-ts": { greeting: "hi " } } });
  await host.start();
  const plugin = host.get("echo-ts")!;
  expect(plugin).toMatchObject({ state: "ready", reason: "", protocolVersion: 1, remote: false, services: [ECHO_SERVICE] });
  expect(plugin.address).toMatch(/^unix:\//);
  expect(plugin.pid).toBeGreaterThan(0);
  expect(host.findByService(ECHO_SERVICE)?.name).toBe("echo-ts");
  expect(host.descriptorsOf("echo-ts").map(fileDescriptorName)).toContain("openledger/examples/v1/echo.proto");
  const response = await echo(plugin, "hello");
  expect(response.message).toBe("hello");
  expect(response.caller).toBe(ALICE.address);
  // The plugin's pino line "serving" arrives at the host's logger, tagged with the plugin's name.
  expect(logs.some((e) => e.fields.plugin === "echo-ts" && e.message === "serving" && e.level === "info")).toBe(true);
});

test("stray stdout before the handshake and plain-text stderr are forwarded, not fatal", async () => {
  const logs: LogEntry[] = [];
  const command = ["sh", "-c", `echo "hello from a wrapper"; echo "plain text" >&2; exec node ${ECHO_MAIN}`];
  const host = newHost([pluginDir("chatty", { command })], { logger: capturingLogger(logs) });
  await host.start();
  expect(host.get("chatty")?.state).toBe("ready");
  expect(logs).toContainEqual(expect.objectContaining({ level: "warn", fields: expect.objectContaining({ plugin: "chatty", line: "hello from a wrapper" }) }));
  expect(logs).toContainEqual(expect.objectContaining({ level: "info", message: "plain text", fields: expect.objectContaining({ plugin: "chatty" }) }));
});

test("discovers plugin directories under a parent; a second provider of a service is refused", async () => {
  const parent = join(scratch, "parent");
  mkdirSync(parent);
  for (const name of ["alpha", "beta"]) {
    mkdirSync(join(parent, name));
    writeFileSync(join(parent, name, "plugin.json"), readFileSync(join(pluginDir(name), "plugin.json")));
  }
  mkdirSync(join(parent, "not-a-plugin"));
  const host = newHost([parent]);
  await host.start();
  expect(host.list().map((p) => [p.name, p.state])).toEqual([["alpha", "ready"], ["beta", "failed"]]);
  expect(host.get("beta")?.reason).toBe(`${ECHO_SERVICE} is already provided by plugin alpha`);
});

test("refuses a plugin that promises a service it does not serve", async () => {
  const dir = pluginDir("liar", { services: [ECHO_SERVICE, "openledger.examples.v1.MissingService"] });
  const host = newHost([dir]);
  await host.start();
  const plugin = host.get("liar")!;
  expect(plugin.state).toBe("failed");
  expect(plugin.reason).toContain("openledger.examples.v1.MissingService");
  expect(plugin.reason).toContain("does not serve");
  expect(plugin.pid).toBe(0);
});

test("refuses a plugin with no common protocol version", async () => {
  const host = newHost([pluginDir("future", { protocolVersions: [99] })]);
  await host.start();
  expect(host.get("future")).toMatchObject({ state: "failed", reason: expect.stringMatching(/no common protocol version.*\[99\].*\[1\]/) });
});

test("checks the manifest's sha256 before each start", async () => {
  const digest = createHash("sha256").update(readFileSync(ECHO_MAIN)).digest("hex");
  const good = pluginDir("checked", { sha256: digest, sha256File: ECHO_MAIN });
  const bad = pluginDir("tampered", { sha256: "0".repeat(64), sha256File: ECHO_MAIN, services: ["openledger.examples.v1.OtherService"], publicMethods: [] });
  const host = newHost([good, bad]);
  await host.start();
  expect(host.get("checked")?.state).toBe("ready");
  expect(host.get("tampered")).toMatchObject({ state: "failed", reason: expect.stringContaining("sha256 mismatch") });
});

test("reports a bad manifest naming the bad key", async () => {
  const host = newHost([pluginDir("broken", { command: "node main.js", colour: "blue" })]);
  await host.start();
  const plugin = host.get("broken")!;
  expect(plugin.state).toBe("failed");
  expect(plugin.reason).toContain("manifest.command: must be array");
  expect(plugin.reason).toContain("manifest.colour: unknown key");
});

test("restarts a plugin killed with SIGKILL, and calls work again", async () => {
  const host = newHost([pluginDir("victim")]);
  await host.start();
  const before = host.get("victim")!;
  expect(before.state).toBe("ready");
  process.kill(before.pid, "SIGKILL");
  const after = await host.waitFor("victim", (p) => p.state === "ready" && p.restarts === 1);
  expect(after.pid).not.toBe(before.pid);
  expect(isAlive(before.pid)).toBe(false);
  expect((await echo(after, "again")).message).toBe("again");
});

test("a crash-looping plugin ends up failed", async () => {
  const dir = pluginDir("crasher", { command: ["node", "-e", "console.error('boom'); process.exit(3)"] });
  const host = newHost([dir], { maxCrashes: 2 });
  await host.start();
  const plugin = await host.waitFor("crasher", (p) => p.state === "failed");
  expect(plugin.reason).toMatch(/crash loop: 3 crashes/);
  expect(plugin.reason).toContain("code 3");
  expect(plugin.reason).toContain("boom");
  expect(plugin.restarts).toBe(2);
});

test("a plugin that never completes its handshake is killed after the start timeout", async () => {
  const host = newHost([pluginDir("mute", { command: ["node", "-e", "setInterval(() => {}, 1000)"] })], { startTimeoutMs: 300, maxCrashes: 0 });
  await host.start();
  const plugin = await host.waitFor("mute", (p) => p.state === "failed");
  expect(plugin.reason).toContain("no handshake line on stdout within 300 ms");
  expect(plugin.pid).toBe(0);
});

test("a handshake choosing a protocol the kernel did not offer is refused", async () => {
  const line = JSON.stringify({ olplugin: 1, protocol: 7, address: "unix:/nowhere.sock" });
  const host = newHost([pluginDir("rogue", { command: ["node", "-e", `console.log('${line}'); setInterval(() => {}, 1000)`] })]);
  await host.start();
  expect(host.get("rogue")).toMatchObject({ state: "failed", reason: expect.stringContaining("handshake chose protocol 7") });
});

test("stopping the host leaves no plugin process", async () => {
  const host = newHost([pluginDir("one")]);
  await host.start();
  const pid = host.get("one")!.pid;
  expect(host.get("one")?.state).toBe("ready");
  expect(isAlive(pid)).toBe(true);
  await host.stop();
  expect(isAlive(pid)).toBe(false);
  expect(host.get("one")).toMatchObject({ state: "stopped", pid: 0 });
});

test("no plugin survives the host process being killed with SIGKILL", async () => {
  // The host runs in a child node process, compiled from these sources with swc.
  const out = join(ROOT, ".run", `host-test-${process.pid}`);
  for (const file of ["host/host", "host/manifest", "host/probe", "config/schema-errors"]) {
    const { code } = transformFileSync(join(__dirname, "..", `${file}.ts`), { jsc: { target: "es2022" }, module: { type: "commonjs" } });
    mkdirSync(dirname(join(out, file)), { recursive: true });
    writeFileSync(join(out, `${file}.js`), code);
  }
  const script = `
    const { PluginHost } = require(${JSON.stringify(join(out, "host", "host.js"))});
    const host = new PluginHost({ pluginDirs: [${JSON.stringify(pluginDir("orphan"))}], logger: { debug() {}, info() {}, warn() {}, error() {} } });
    host.start().then(() => console.log(JSON.stringify(host.list().map((p) => [p.state, p.pid]))));
  `;
  const child = spawn(process.execPath, ["-e", script], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  try {
    const line = await new Promise<string>((resolvePromise, reject) => {
      child.stdout.once("data", (chunk: Buffer) => resolvePromise(chunk.toString()));
      child.once("exit", (code) => reject(new Error(`host script exited (${code})`)));
    });
    const [[state, pid]] = JSON.parse(line) as [string, number][];
    expect(state).toBe("ready");
    expect(isAlive(pid!)).toBe(true);
    child.kill("SIGKILL");
    await eventually(() => !isAlive(pid!));
  } finally {
    child.kill("SIGKILL");
    rmSync(out, { recursive: true, force: true });
  }
});

test("remote plugins are verified on registration and can be removed", async () => {
  // A plugin the kernel did not start: here the echo plugin, started by another host on TCP.
  const elsewhere = newHost([pluginDir("served-elsewhere")], { listen: "tcp" });
  await elsewhere.start();
  const served = elsewhere.get("served-elsewhere")!;
  expect(served.address).toMatch(/^127\.0\.0\.1:\d+$/);
  const host = newHost([]);
  await expect(
    host.registerRemote({ name: "remote-echo", version: "1", address: served.address, services: ["openledger.examples.v1.Nope"] }),
  ).rejects.toThrow(/Nope.*does not serve/);
  expect(host.get("remote-echo")).toBeUndefined();
  const changes: string[] = [];
  host.onChange((p) => changes.push(`${p.name}:${p.state}`));
  const remote = await host.registerRemote({ name: "remote-echo", version: "1", address: served.address, services: [ECHO_SERVICE] });
  expect(remote).toMatchObject({ state: "ready", remote: true, pid: 0 });
  expect(host.descriptorsOf("remote-echo").length).toBeGreaterThan(0);
  await host.deregisterRemote("remote-echo");
  expect(host.get("remote-echo")).toBeUndefined();
  expect(changes).toEqual(["remote-echo:ready", "remote-echo:stopped"]);
});

test("a remote plugin's NOT_SERVING takes it out of ready; lost contact is noticed and recovered", async () => {
  // A remote plugin served in this process: health and reflection only, which is what the host checks.
  const descriptorSet = readFileSync(join(ROOT, "kernel/sdk/src/gen/descriptors.binpb"));
  const board = new HealthStatusBoard();
  const port = await freePort();
  const serve = async () => {
    const server = new grpc.Server();
    server.addService(HealthServiceDefinition, board.implementation());
    new ReflectionService(protoLoader.loadFileDescriptorSetFromBuffer(descriptorSet), { services: [ECHO_SERVICE] }).addToServer(server);
    await new Promise<void>((res, rej) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? rej(err) : res())),
    );
    return server;
  };
  board.set("", ServingStatus.SERVING);
  let server = await serve();
  try {
    const host = newHost([]);
    await host.registerRemote({ name: "far", version: "1", address: `127.0.0.1:${port}`, services: [ECHO_SERVICE] });
    board.set("", ServingStatus.NOT_SERVING);
    const unhealthy = await host.waitFor("far", (p) => p.state === "starting");
    expect(unhealthy.reason).toContain("NOT_SERVING");
    board.set("", ServingStatus.SERVING);
    await host.waitFor("far", (p) => p.state === "ready");

    server.forceShutdown();
    const lost = await host.waitFor("far", (p) => p.state === "backoff");
    expect(lost.reason).toContain("lost contact");
    server = await serve();
    const back = await host.waitFor("far", (p) => p.state === "ready");
    expect(back.restarts).toBeGreaterThanOrEqual(1);
  } finally {
    board.endWatches();
    server.forceShutdown();
  }
});
