// The gateway against real grpc-js servers: an EchoService plugin, and clients calling through
// the gateway exactly as external clients would.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { verifyIdentity } from "@openledger/sdk";
import {
  EchoRequest,
  EchoServiceClient,
  CountRequest,
  CountResponse,
  EchoResponse,
  type ChatResponse,
  type ConcatResponse,
} from "@openledger/sdk/gen/openledger/examples/v1/echo";
import {
  KernelServiceClient,
  KernelServiceService,
  GetKernelInfoResponse,
} from "@openledger/sdk/gen/openledger/kernel/v1/kernel";
import { API_KEY, CALLER, ECHO_SERVICE, FAIL_MESSAGE, TestDirectory, echoDescriptors, startEchoPlugin, testAuthenticator, type EchoPlugin } from "./__tests__/fixtures";
import { DataPlane } from "./data-plane";
import { Gateway, type GatewayOptions } from "./gateway";

const MiB = 1024 * 1024;
const LIMIT = 8 * MiB;

function keyed(extra: Record<string, string> = {}): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set("x-api-key", API_KEY);
  for (const [key, value] of Object.entries(extra)) metadata.set(key, value);
  return metadata;
}

function unary<T>(start: (done: (error: grpc.ServiceError | null, value?: T) => void) => unknown): Promise<T> {
  return new Promise((resolve, reject) => start((error, value) => (error ? reject(error) : resolve(value as T))));
}

function collect<T>(stream: grpc.ClientReadableStream<T> | grpc.ClientDuplexStream<unknown, T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const items: T[] = [];
    stream.on("data", (item: T) => items.push(item));
    stream.on("error", reject);
    stream.on("end", () => resolve(items));
  });
}

// Every test runs twice: against the grpc-js Gateway alone, and through the Go data plane
// (ol-gateway) in front of it, which is how the kernel serves its public port.
describe.each([
  { front: "grpc-js gateway", withDataPlane: false },
  { front: "Go data plane", withDataPlane: true },
])("Gateway ($front)", ({ withDataPlane }) => {
  const kernelCredential = randomBytes(32);
  let directory: TestDirectory;
  let plugin: EchoPlugin;
  let gateway: Gateway;
  let dataPlane: DataPlane | undefined;
  /** Where clients call: the data plane's port, or the gateway's. */
  let address: string;
  let socketDir: string;
  let echo: EchoServiceClient;
  let kernelInfoCalls: grpc.Metadata[];

  async function serve(options: GatewayOptions): Promise<void> {
    gateway = new Gateway(options);
    if (withDataPlane) {
      await gateway.listen(`unix:${path.join(socketDir, `gateway-${randomBytes(4).toString("hex")}.sock`)}`);
      dataPlane = await DataPlane.start({
        gateway,
        directory: options.directory,
        authenticate: options.authenticate,
        listen: "127.0.0.1:0",
        maxReceiveMessageBytes: options.maxReceiveMessageBytes,
        maxSendMessageBytes: options.maxSendMessageBytes,
        stopGraceMs: 100,
      });
      address = dataPlane.address;
    } else {
      address = await gateway.listen("127.0.0.1:0");
    }
    echo = new EchoServiceClient(address, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": -1,
      "grpc.max_send_message_length": -1,
    });
  }

  async function stopServing(): Promise<void> {
    echo.close();
    await dataPlane?.close();
    dataPlane = undefined;
    await gateway.close(100);
  }

  /** Directory changes reach the data plane over its control socket; wait until they are in effect. */
  const routesSynced = (): Promise<void> => dataPlane?.synced() ?? Promise.resolve();

  beforeEach(async () => {
    socketDir = mkdtempSync(path.join(tmpdir(), "ol-gw-test-"));
    directory = new TestDirectory();
    plugin = await startEchoPlugin();
    directory.add({ name: "echo", address: plugin.address, credential: plugin.credential, services: [ECHO_SERVICE] }, echoDescriptors());
    kernelInfoCalls = [];
    await serve({
      directory,
      authenticate: testAuthenticator,
      kernelCredential,
      maxReceiveMessageBytes: LIMIT,
      maxSendMessageBytes: LIMIT,
      localServices: [
        {
          definition: KernelServiceService,
          implementation: {
            getKernelInfo: (call: grpc.ServerUnaryCall<unknown, GetKernelInfoResponse>, callback: grpc.sendUnaryData<GetKernelInfoResponse>) => {
              kernelInfoCalls.push(call.metadata);
              callback(null, GetKernelInfoResponse.fromPartial({ version: "test" }));
            },
          },
        },
      ],
    });
  });

  afterEach(async () => {
    await stopServing();
    await plugin.stop();
    rmSync(socketDir, { recursive: true, force: true });
  });

  test("unary: identity signed for the plugin, metadata and trace context forwarded, headers and trailers returned", async () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let headers: grpc.Metadata | undefined;
    let trailers: grpc.Metadata | undefined;
    const response = await unary<EchoResponse>((done) => {
      const call = echo.echo({ message: "hi", payload: Buffer.from("abc") }, keyed({ traceparent, tracestate: "ol=1", "x-app": "v" }), done);
      call.on("metadata", (m: grpc.Metadata) => (headers = m));
      call.on("status", (s: grpc.StatusObject) => (trailers = s.metadata));
    });
    expect(response.message).toBe("hi");
    expect(Buffer.from(response.payload).toString()).toBe("abc");
    expect(response.caller).toBe(CALLER);
    const seen = plugin.seen.metadata[0];
    if (withDataPlane) {
      // The data plane's own span continues the client's trace and becomes the plugin's parent.
      expect(seen.get("traceparent")[0]).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
      expect(seen.get("traceparent")[0]).not.toBe(traceparent);
    } else {
      expect(seen.get("traceparent")).toEqual([traceparent]);
    }
    expect(seen.get("tracestate")).toEqual(["ol=1"]);
    expect(seen.get("x-app")).toEqual(["v"]);
    // The credential was for the kernel only.
    expect(seen.get("x-api-key")).toEqual([]);
    expect(headers?.get("x-echo-header")).toEqual(["h1"]);
    expect(trailers?.get("x-echo-trailer")).toEqual(["t1"]);
  });

  test("a plugin's error status, message and trailers reach the client unchanged; binary headers pass", async () => {
    const metadata = keyed();
    metadata.set("x-app-bin", Buffer.from([0, 1, 2, 255]));
    let trailers: grpc.Metadata | undefined;
    await expect(
      unary((done) => {
        const call = echo.echo(EchoRequest.fromPartial({ message: FAIL_MESSAGE }), metadata, done);
        call.on("status", (s: grpc.StatusObject) => (trailers = s.metadata));
      }),
    ).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION, details: "asked to fail" });
    expect(trailers?.get("x-echo-trailer")).toEqual(["failed"]);
    expect(plugin.seen.metadata[0].get("x-app-bin")).toEqual([Buffer.from([0, 1, 2, 255])]);
  });

  test("the client's deadline travels to the plugin; no deadline stays none", async () => {
    const deadline = Date.now() + 60_000;
    await unary((done) => echo.echo(EchoRequest.fromPartial({ message: "d" }), keyed(), { deadline }, done));
    await unary((done) => echo.echo(EchoRequest.fromPartial({ message: "n" }), keyed(), done));
    const [withDeadline, withoutDeadline] = plugin.seen.deadlines;
    // grpc-timeout carries the remaining time, which the plugin turns back into a deadline (±ms rounding).
    expect(withDeadline).toBeLessThanOrEqual(deadline + 1000);
    expect(withDeadline).toBeGreaterThan(deadline - 30_000);
    expect(withoutDeadline).toBe(Infinity);
  });

  test("a forged identity header never reaches the plugin; only what the kernel signed does", async () => {
    const forged = {
      "x-ol-caller": "0x00000000000000000000000000000000000000ff",
      "x-ol-auth-method": "kernel",
      "x-ol-caller-ts": String(Date.now()),
      "x-ol-caller-sig": "00".repeat(32),
      "x-ol-anything": "x",
    };
    const signedAsCaller = await unary<EchoResponse>((done) => echo.echo(EchoRequest.fromPartial({ message: "a" }), keyed(forged), done));
    expect(signedAsCaller.caller).toBe(CALLER);
    const anonymous = await unary<EchoResponse>((done) => {
      const metadata = new grpc.Metadata();
      for (const [key, value] of Object.entries(forged)) metadata.set(key, value);
      echo.echo(EchoRequest.fromPartial({ message: "b" }), metadata, done);
    });
    expect(anonymous.caller).toBe("");
    for (const seen of plugin.seen.metadata) {
      expect(seen.get("x-ol-anything")).toEqual([]);
      expect(seen.get("x-ol-caller")).toHaveLength(1);
    }
    expect(plugin.seen.identities).toEqual([
      { address: CALLER, authMethod: "apikey" },
      { address: "", authMethod: "none" },
    ]);
  });

  test("authentication failure is UNAUTHENTICATED with the reason, and the plugin is not called", async () => {
    const metadata = new grpc.Metadata();
    metadata.set("x-api-key", "wrong");
    await expect(unary((done) => echo.echo(EchoRequest.fromPartial({ message: "x" }), metadata, done))).rejects.toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
      details: "unknown API key",
    });
    expect(plugin.seen.metadata).toHaveLength(0);
  });

  test("server streaming passes every message", async () => {
    const items = await collect<CountResponse>(echo.count({ count: 5, intervalMs: 1 }, keyed()));
    expect(items.map((item) => item.index)).toEqual([0, 1, 2, 3, 4]);
  });

  test("client streaming passes every message and the half-close", async () => {
    const response = await unary<ConcatResponse>((done) => {
      const call = echo.concat(keyed(), done);
      for (const part of ["a", "b", "c"]) call.write({ part });
      call.end();
    });
    expect(response).toEqual({ joined: "abc", parts: 3 });
  });

  test("long streams keep every message, in order, both ways", async () => {
    const parts = Array.from({ length: 2000 }, (_, i) => String(i % 10));
    const joined = await unary<ConcatResponse>((done) => {
      const call = echo.concat(keyed(), done);
      for (const part of parts) call.write({ part });
      call.end();
    });
    expect(joined).toEqual({ joined: parts.join(""), parts: parts.length });
    const call = echo.chat(keyed());
    const answers = collect<ChatResponse>(call);
    for (let i = 0; i < 1000; i++) call.write({ text: String(i) });
    call.end();
    expect((await answers).map((answer) => answer.text)).toEqual(Array.from({ length: 1000 }, (_, i) => `echo: ${i}`));
  });

  test("bidi streaming answers each message as it arrives", async () => {
    const call = echo.chat(keyed());
    const first = await new Promise<ChatResponse>((resolve) => {
      call.once("data", resolve);
      call.write({ text: "one" });
    });
    expect(first.text).toBe("echo: one");
    const rest = collect<ChatResponse>(call);
    call.write({ text: "two" });
    call.end();
    expect((await rest).map((r) => r.text)).toEqual(["echo: two"]);
  });

  test("a client deadline reaches the plugin and cancels its handler", async () => {
    await expect(
      unary((done) => echo.sleep({ ms: 30_000 }, keyed(), { deadline: Date.now() + 300 }, done)),
    ).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
    await plugin.cancelledCall("Sleep");
  });

  test("cancelling a client stream cancels the upstream call", async () => {
    const call = echo.concat(keyed(), () => {});
    call.write({ part: "a" });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(plugin.seen.metadata).toHaveLength(1);
    call.cancel();
    await plugin.cancelledCall("Concat");
  });

  test("cancelling a server stream cancels the upstream call", async () => {
    const call = echo.count({ count: 1000, intervalMs: 20 }, keyed());
    await new Promise((resolve) => call.once("data", resolve));
    call.on("error", () => {});
    call.cancel();
    await plugin.cancelledCall("Count");
  });

  test("messages of 4 to 8 MB pass up to the limit; beyond it RESOURCE_EXHAUSTED", async () => {
    for (const size of [4 * MiB, LIMIT - 1024]) {
      const response = await unary<EchoResponse>((done) => echo.echo({ message: "big", payload: Buffer.alloc(size, 7) }, keyed(), done));
      expect(response.payload.length).toBe(size);
    }
    await expect(
      unary((done) => echo.echo({ message: "too big", payload: Buffer.alloc(LIMIT + 1024) }, keyed(), done)),
    ).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
  });

  test("a response over the send limit is RESOURCE_EXHAUSTED", async () => {
    await stopServing();
    await serve({ directory, authenticate: testAuthenticator, maxReceiveMessageBytes: 2 * LIMIT, maxSendMessageBytes: LIMIT });
    // The request fits the receive limit; the echoed response does not fit the send limit.
    await expect(
      unary((done) => echo.echo({ message: "", payload: Buffer.alloc(LIMIT + 1024) }, keyed(), done)),
    ).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
  });

  test("plugin down: UNAVAILABLE naming the plugin; success once it is back", async () => {
    await plugin.stop();
    // Still marked ready, but unreachable.
    await expect(unary((done) => echo.echo(EchoRequest.fromPartial({ message: "x" }), keyed(), done))).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: expect.stringMatching(/^plugin echo is unavailable: /),
    });
    directory.update("echo", { state: "backoff", reason: "exited with code 1" });
    await routesSynced();
    await expect(unary((done) => echo.echo(EchoRequest.fromPartial({ message: "x" }), keyed(), done))).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: "plugin echo is unavailable: exited with code 1",
    });
    plugin = await startEchoPlugin(plugin.credential);
    directory.update("echo", { state: "ready", reason: "", address: plugin.address });
    await routesSynced();
    const response = await unary<EchoResponse>((done) => echo.echo(EchoRequest.fromPartial({ message: "back" }), keyed(), done));
    expect(response.message).toBe("back");
  });

  test("unknown method is UNIMPLEMENTED; methods come and go with their plugin", async () => {
    const unknown = new grpc.Client(address, grpc.credentials.createInsecure());
    const call = (path: string) =>
      unary((done) => unknown.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), keyed(), done));
    await expect(call("/no.Such/Method")).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
    directory.remove("echo");
    await routesSynced();
    await expect(call(`/${ECHO_SERVICE}/Echo`)).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
    expect(gateway.describe(`/${ECHO_SERVICE}/Echo`)).toBeUndefined();
    directory.add({ name: "echo", address: plugin.address, credential: plugin.credential, services: [ECHO_SERVICE] }, echoDescriptors());
    await routesSynced();
    await expect(call(`/${ECHO_SERVICE}/Echo`)).resolves.toBeInstanceOf(Buffer);
    unknown.close();
  });

  test("kernel services are served on the same port, authenticated, with kernel-signed identity", async () => {
    const kernel = new KernelServiceClient(address, grpc.credentials.createInsecure());
    const info = await unary<GetKernelInfoResponse>((done) => kernel.getKernelInfo({}, keyed({ "x-ol-caller": CALLER }), done));
    expect(info.version).toBe("test");
    const identity = verifyIdentity(kernelCredential, (name) => kernelInfoCalls[0].get(name)[0]?.toString(), "/openledger.kernel.v1.KernelService/GetKernelInfo");
    expect(identity).toEqual({ address: CALLER, authMethod: "apikey" });
    const wrongKey = new grpc.Metadata();
    wrongKey.set("x-api-key", "wrong");
    await expect(unary((done) => kernel.getKernelInfo({}, wrongKey, done))).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect(kernelInfoCalls).toHaveLength(1);
    kernel.close();
  });

  test("catalog and invoker: what the HTTP/JSON layer uses", async () => {
    expect(gateway.describe(`/${ECHO_SERVICE}/Count`)).toEqual({
      path: `/${ECHO_SERVICE}/Count`,
      service: ECHO_SERVICE,
      plugin: "echo",
      requestType: "openledger.examples.v1.CountRequest",
      responseType: "openledger.examples.v1.CountResponse",
      clientStreaming: false,
      serverStreaming: true,
    });
    expect(gateway.describe("/openledger.kernel.v1.KernelService/GetKernelInfo")?.plugin).toBe("kernel");
    const invoker = gateway.invoker();
    const reply = await invoker.unary(`/${ECHO_SERVICE}/Echo`, EchoRequest.encode({ message: "via http", payload: Buffer.alloc(0) }).finish(), {
      metadata: keyed(),
    });
    expect(EchoResponse.decode(reply)).toMatchObject({ message: "via http", caller: CALLER });
    const indexes: number[] = [];
    for await (const message of invoker.serverStream(`/${ECHO_SERVICE}/Count`, CountRequest.encode({ count: 3, intervalMs: 1 }).finish(), {
      metadata: keyed(),
    })) {
      indexes.push(CountResponse.decode(message).index);
    }
    expect(indexes).toEqual([0, 1, 2]);
    const aborted = new AbortController();
    const sleeping = invoker.unary(`/${ECHO_SERVICE}/Sleep`, Buffer.from([0x08, 0xb0, 0xea, 0x01]), { metadata: keyed(), signal: aborted.signal });
    setTimeout(() => aborted.abort(), 100);
    await expect(sleeping).rejects.toMatchObject({ code: grpc.status.CANCELLED });
    await plugin.cancelledCall("Sleep");
  });
});
