// The echo plugin as a real process, started by the kernel's plugin host, called directly.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { PluginHost, type PluginRuntime } from "@openledger/kernel";
import { examplesV1, signIdentity, IDENTITY_HEADERS, type Identity } from "@openledger/sdk";
import type { SleepStats } from "./echo";
import { buildEchoTsPlugin, quietLogger } from "@openledger/kernel/host/__tests__/testing";

const PLUGIN_DIR = resolve(__dirname, "..");
const BOB: Identity = { address: "0x0000000000000000000000000000000000000b0b", authMethod: "siwe" };
const PATH = (method: string) => `/openledger.examples.v1.EchoService/${method}`;

const scratch = mkdtempSync(join(tmpdir(), "ol-echo-ts-"));
let host: PluginHost;
let plugin: PluginRuntime;
let client: examplesV1.EchoServiceClient;

beforeAll(async () => {
  buildEchoTsPlugin();
  host = new PluginHost({
    pluginDirs: [PLUGIN_DIR],
    dataDir: scratch,
    configs: { "echo-ts": { greeting: "re: " } },
    logger: quietLogger,
  });
  await host.start();
  plugin = host.get("echo-ts")!;
  client = new examplesV1.EchoServiceClient(plugin.address, grpc.credentials.createInsecure());
}, 120000);

afterAll(async () => {
  client?.close();
  await host?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function signed(method: string, identity: Identity = BOB, credential: Buffer = plugin.credential): grpc.Metadata {
  return grpc.Metadata.fromHttp2Headers(signIdentity(credential, identity, PATH(method)));
}

function unary<Req, Res>(
  call: (req: Req, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Res) => void) => grpc.ClientUnaryCall,
  request: Req,
  metadata: grpc.Metadata,
  options: grpc.CallOptions = {},
): Promise<Res> {
  return new Promise((resolvePromise, reject) => {
    call.call(client, request, metadata, options, (err, response) => (err ? reject(err) : resolvePromise(response)));
  });
}

const echo = (message: string, metadata: grpc.Metadata) =>
  unary(client.echo, { message, payload: Buffer.from([1, 2, 3]) }, metadata);
const sleep = (ms: number, metadata: grpc.Metadata, options: grpc.CallOptions = {}) => unary(client.sleep, { ms }, metadata, options);

test("the plugin was verified by the host", () => {
  expect(plugin).toMatchObject({ state: "ready", publicMethods: [PATH("Echo")] });
});

test("Echo returns the verified caller and the metadata it received", async () => {
  const metadata = signed("Echo");
  metadata.set("x-request-id", "r-42");
  const response = await echo("hi", metadata);
  expect(response).toMatchObject({ message: "hi", caller: BOB.address, payload: Buffer.from([1, 2, 3]) });
  expect(response.metadata["x-request-id"]).toBe("r-42");
  expect(response.metadata[IDENTITY_HEADERS.caller]).toBe(BOB.address);
});

test("Echo is public: an unsigned call is anonymous, a forged one is refused", async () => {
  expect((await echo("anyone", new grpc.Metadata())).caller).toBe("");
  const forged = signed("Echo", BOB, Buffer.alloc(32, 7));
  await expect(echo("forged", forged)).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
});

test("a non-public method refuses forged, replayed-for-another-method and missing identities", async () => {
  await expect(sleep(1, signed("Sleep", BOB, Buffer.alloc(32, 7)))).rejects.toMatchObject({
    code: grpc.status.UNAUTHENTICATED,
    details: expect.stringContaining("not signed with this plugin's credential"),
  });
  await expect(sleep(1, signed("Echo"))).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  await expect(sleep(1, new grpc.Metadata())).rejects.toMatchObject({
    code: grpc.status.UNAUTHENTICATED,
    details: expect.stringContaining("call it through the kernel"),
  });
  await expect(sleep(1, signed("Sleep"))).resolves.toEqual({ cancelled: false });
});

test("the streaming methods work, and refuse unsigned callers", async () => {
  const counted: number[] = [];
  await new Promise<void>((resolvePromise, reject) => {
    const stream = client.count({ count: 3, intervalMs: 1 }, signed("Count"));
    stream.on("data", (r: examplesV1.CountResponse) => counted.push(r.index));
    stream.on("end", resolvePromise);
    stream.on("error", reject);
  });
  expect(counted).toEqual([0, 1, 2]);
  const chatted = await new Promise<string[]>((resolvePromise, reject) => {
    const texts: string[] = [];
    const stream = client.chat(signed("Chat"));
    stream.on("data", (r: examplesV1.ChatResponse) => texts.push(r.text));
    stream.on("end", () => resolvePromise(texts));
    stream.on("error", reject);
    stream.write({ text: "a" });
    stream.write({ text: "b" });
    stream.end();
  });
  expect(chatted).toEqual(["re: a", "re: b"]);
  const refused = await new Promise<grpc.ServiceError>((resolvePromise) => {
    const stream = client.count({ count: 1, intervalMs: 1 }, new grpc.Metadata());
    stream.on("data", () => undefined);
    stream.on("error", resolvePromise);
  });
  expect(refused.code).toBe(grpc.status.UNAUTHENTICATED);
});

test("a Sleep cut short by the caller's deadline is observed by the plugin", async () => {
  const stats = async () => JSON.parse((await echo("stats", signed("Echo"))).message) as SleepStats;
  const before = await stats();
  await expect(sleep(10000, signed("Sleep"), { deadline: Date.now() + 200 })).rejects.toMatchObject({
    code: grpc.status.DEADLINE_EXCEEDED,
  });
  // The cancellation reaches the plugin asynchronously.
  let after = await stats();
  for (let i = 0; i < 50 && after.cancelled === before.cancelled; i++) {
    await new Promise((r) => setTimeout(r, 20));
    after = await stats();
  }
  expect(after.cancelled).toBe(before.cancelled + 1);
  expect(after.lastCancelledAfterMs).toBeGreaterThanOrEqual(150);
  expect(after.lastCancelledAfterMs).toBeLessThan(10000);
});

test("run by hand, it explains itself and exits 1", () => {
  const run = spawnSync(process.execPath, [join(PLUGIN_DIR, "dist/main.js")], { env: { PATH: process.env.PATH }, encoding: "utf8" });
  expect(run.status).toBe(1);
  expect(run.stderr).toContain("the kernel starts it");
});
