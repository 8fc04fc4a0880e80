// The Python example plugin, started and verified by the kernel's plugin host and called directly.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { PluginHost, fileDescriptorName, type PluginRuntime } from "@openledger/kernel";
import { examplesV1, signIdentity, type Identity } from "@openledger/sdk";

const CAROL: Identity = { address: "0x00000000000000000000000000000000000ca201", authMethod: "siwe" };
const PATH = (method: string) => `/openledger.examples.v1.EchoService/${method}`;
const scratch = mkdtempSync(join(tmpdir(), "ol-echo-python-"));
const logs: string[] = [];
let host: PluginHost;
let plugin: PluginRuntime;
let client: examplesV1.EchoServiceClient;

beforeAll(async () => {
  const record = (fields: object, message?: string) => logs.push(JSON.stringify({ ...fields, message }));
  host = new PluginHost({
    pluginDirs: [__dirname],
    dataDir: scratch,
    configs: { "echo-python": { greeting: "py: " } },
    logger: { debug: record, info: record, warn: record, error: record },
  });
  await host.start();
  plugin = host.get("echo-python")!;
  client = new examplesV1.EchoServiceClient(plugin.address, grpc.credentials.createInsecure());
}, 60000);

afterAll(async () => {
  client?.close();
  await host?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const signed = (method: string, credential: Buffer = plugin.credential) =>
  grpc.Metadata.fromHttp2Headers(signIdentity(credential, CAROL, PATH(method)));

function unary<Req, Res>(method: (r: Req, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, res: Res) => void) => unknown, request: Req, metadata: grpc.Metadata, options: grpc.CallOptions = {}): Promise<Res> {
  return new Promise((res, rej) => method.call(client, request, metadata, options, (err, r) => (err ? rej(err) : res(r))));
}

test("the host starts the Python plugin and verifies it through health and reflection (v1alpha)", () => {
  expect(plugin).toMatchObject({ state: "ready", reason: "", protocolVersion: 1, services: ["openledger.examples.v1.EchoService"] });
  expect(host.descriptorsOf("echo-python").map(fileDescriptorName)).toContain("openledger/examples/v1/echo.proto");
  // Its JSON stderr lines are forwarded, tagged with its name.
  expect(logs.some((line) => line.includes('"plugin":"echo-python"') && line.includes('"message":"serving"'))).toBe(true);
});

test("Echo returns the identity the kernel signed; forged and missing identities are refused", async () => {
  const response = await unary(client.echo, { message: "hello", payload: Buffer.from("p") }, signed("Echo"));
  expect(response).toMatchObject({ message: "hello", caller: CAROL.address, payload: Buffer.from("p") });
  expect((await unary(client.echo, { message: "anon", payload: Buffer.alloc(0) }, new grpc.Metadata())).caller).toBe("");
  await expect(unary(client.echo, { message: "x", payload: Buffer.alloc(0) }, signed("Echo", Buffer.alloc(32, 1)))).rejects.toMatchObject({
    code: grpc.status.UNAUTHENTICATED,
  });
  await expect(unary(client.sleep, { ms: 1 }, new grpc.Metadata())).rejects.toMatchObject({
    code: grpc.status.UNAUTHENTICATED,
    details: expect.stringContaining("through the kernel"),
  });
});

test("Chat uses the config the kernel passed; a cancelled Sleep shows in the stats", async () => {
  const texts = await new Promise<string[]>((res, rej) => {
    const out: string[] = [];
    const stream = client.chat(signed("Chat"));
    stream.on("data", (r: examplesV1.ChatResponse) => out.push(r.text));
    stream.on("end", () => res(out));
    stream.on("error", rej);
    stream.write({ text: "one" });
    stream.end();
  });
  expect(texts).toEqual(["py: one"]);
  await expect(unary(client.sleep, { ms: 10000 }, signed("Sleep"), { deadline: Date.now() + 200 })).rejects.toMatchObject({
    code: grpc.status.DEADLINE_EXCEEDED,
  });
  let stats = { cancelled: 0 };
  for (let i = 0; i < 50 && stats.cancelled === 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    stats = JSON.parse((await unary(client.echo, { message: "stats", payload: Buffer.alloc(0) }, signed("Echo"))).message);
  }
  expect(stats.cancelled).toBe(1);
});

test("stopping the host stops the Python process", async () => {
  const pid = plugin.pid;
  await host.stop();
  expect(() => process.kill(pid, 0)).toThrow();
});
