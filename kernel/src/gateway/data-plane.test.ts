// What only the Go data plane (ol-gateway) has: its span and call records reaching the kernel's
// telemetry, the credential cache and its invalidation, health and reflection of the union on its
// port, and its exit when the kernel's control socket goes away. The gateway's contract (the four
// call kinds, metadata, limits, UNAVAILABLE, ...) runs through it in gateway.test.ts.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-node";
import { verifyIdentity, type Identity } from "@openledger/sdk";
import { EchoRequest, EchoServiceClient, type EchoResponse } from "@openledger/sdk/gen/openledger/examples/v1/echo";
import { Telemetry } from "../telemetry";
import type { Authenticator } from "../types";
import { API_KEY, CALLER, ECHO_SERVICE, TestDirectory, echoDescriptors, startEchoPlugin, testAuthenticator, type EchoPlugin } from "./__tests__/fixtures";
import { DataPlane, type DataPlaneCall } from "./data-plane";
import { Gateway } from "./gateway";

const ECHO = `/${ECHO_SERVICE}/Echo`;
const CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";

function echoOnce(client: EchoServiceClient, metadata: grpc.Metadata): Promise<EchoResponse> {
  return new Promise((resolve, reject) =>
    client.echo(EchoRequest.fromPartial({ message: "m" }), metadata, (error, response) => (error ? reject(error) : resolve(response!))),
  );
}

function withKey(key = API_KEY, extra: Record<string, string> = {}): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set("x-api-key", key);
  for (const [name, value] of Object.entries(extra)) metadata.set(name, value);
  return metadata;
}

describe("DataPlane (ol-gateway)", () => {
  let socketDir: string;
  let directory: TestDirectory;
  let plugin: EchoPlugin;
  let gateway: Gateway;
  let dataPlane: DataPlane;
  let echo: EchoServiceClient;
  let reported: DataPlaneCall[];
  let authentications: number;
  let refuseEveryone: boolean;
  let telemetrySpans: InMemorySpanExporter;
  let telemetry: Telemetry;

  /** The test authenticator, counting the calls that reach it, and able to turn everyone away. */
  const countingAuthenticator: Authenticator = async (method, metadata) => {
    authentications += 1;
    if (refuseEveryone) throw Object.assign(new Error("API key was revoked"), { code: grpc.status.UNAUTHENTICATED, details: "API key was revoked" });
    return testAuthenticator(method, metadata);
  };

  beforeEach(async () => {
    socketDir = mkdtempSync(path.join(tmpdir(), "ol-dp-test-"));
    reported = [];
    authentications = 0;
    refuseEveryone = false;
    telemetrySpans = new InMemorySpanExporter();
    telemetry = new Telemetry({ serviceName: "ol-test", otlpEndpoint: "", logLevel: "silent", spanProcessors: [new SimpleSpanProcessor(telemetrySpans)] });
    directory = new TestDirectory();
    plugin = await startEchoPlugin();
    directory.add({ name: "echo", address: plugin.address, credential: plugin.credential, services: [ECHO_SERVICE] }, echoDescriptors());
    gateway = new Gateway({ directory, authenticate: countingAuthenticator });
    await gateway.listen(`unix:${path.join(socketDir, "gateway.sock")}`);
    dataPlane = await DataPlane.start({
      gateway,
      directory,
      authenticate: countingAuthenticator,
      listen: "127.0.0.1:0",
      authCacheMs: 60_000,
      onCalls: (calls) => {
        reported.push(...calls);
        telemetry.recordRelayedCalls(calls);
      },
      stopGraceMs: 100,
    });
    echo = new EchoServiceClient(dataPlane.address, grpc.credentials.createInsecure());
  });

  afterEach(async () => {
    echo.close();
    await dataPlane.close();
    await gateway.close(100);
    await plugin.stop();
    await telemetry.shutdown();
    rmSync(socketDir, { recursive: true, force: true });
  });

  async function reportedCalls(count: number): Promise<DataPlaneCall[]> {
    for (let tries = 0; tries < 100 && reported.length < count; tries++) await new Promise((resolve) => setTimeout(resolve, 20));
    return reported;
  }

  test("identity signed in Go verifies with the TypeScript verifier, and only with the plugin's credential", async () => {
    await echoOnce(echo, withKey());
    const seen = plugin.seen.metadata[0];
    const header = (name: string): string | undefined => seen.get(name)[0]?.toString();
    const expected: Identity = { address: CALLER, authMethod: "apikey" };
    expect(verifyIdentity(plugin.credential, header, ECHO)).toEqual(expected);
    expect(verifyIdentity(randomBytes(32), header, ECHO)).toBeNull();
    expect(verifyIdentity(plugin.credential, header, `/${ECHO_SERVICE}/Count`)).toBeNull();
  });

  test("a caller's signature for a method is reused for a while, so the plugin can verify it from its cache", async () => {
    await echoOnce(echo, withKey());
    await echoOnce(echo, withKey());
    const [first, second] = plugin.seen.metadata.map((seen) => (name: string): string | undefined => seen.get(name)[0]?.toString());
    expect(second("x-ol-caller-sig")).toBe(first("x-ol-caller-sig"));
    expect(second("x-ol-caller-ts")).toBe(first("x-ol-caller-ts"));
    expect(verifyIdentity(plugin.credential, second, ECHO)).toEqual({ address: CALLER, authMethod: "apikey" });
  });

  test("ol-gateway runs with Go's sysmon kept out of its deep sleep (GODEBUG schedtrace, see data-plane.ts)", () => {
    const environment = readFileSync(`/proc/${dataPlane.pid}/environ`, "utf8").split("\0");
    expect(environment.find((entry) => entry.startsWith("GODEBUG="))).toMatch(/^GODEBUG=(.*,)?schedtrace=2147483647$/);
  });

  test("each call is reported once with its span, which the plugin got as its parent and the kernel records", async () => {
    await echoOnce(echo, withKey(API_KEY, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` }));
    await expect(echoOnce(echo, withKey("wrong"))).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    const [ok, refused] = await reportedCalls(2);
    expect(ok).toMatchObject({ method: ECHO, code: grpc.status.OK, traceId: CLIENT_TRACE, parentSpanId: CLIENT_SPAN, sampled: true });
    expect(plugin.seen.metadata[0].get("traceparent")).toEqual([`00-${CLIENT_TRACE}-${ok.spanId}-01`]);
    expect(ok.durationUs).toBeGreaterThan(0);
    expect(refused).toMatchObject({ method: ECHO, code: grpc.status.UNAUTHENTICATED, message: "unknown API key" });
    expect(refused.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(refused.parentSpanId).toBeUndefined();

    const span = telemetrySpans.getFinishedSpans().find((s) => s.spanContext().spanId === ok.spanId);
    expect(span?.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(span?.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    expect(span?.name).toBe(ECHO);
    const metrics = await telemetry.registry.metrics();
    expect(metrics).toContain(`ol_calls_total{method="${ECHO}",code="OK",transport="grpc"} 1`);
    expect(metrics).toContain(`ol_calls_total{method="${ECHO}",code="UNAUTHENTICATED",transport="grpc"} 1`);
    expect(metrics).toMatch(new RegExp(`ol_call_duration_seconds_count\\{method="${ECHO}",transport="grpc"\\} 2`));
  });

  test("a credential is asked of the kernel once, until the kernel says to forget it", async () => {
    await echoOnce(echo, withKey());
    await echoOnce(echo, withKey());
    expect(authentications).toBe(1);
    refuseEveryone = true;
    dataPlane.invalidateCredentials();
    await dataPlane.synced();
    await expect(echoOnce(echo, withKey())).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: "API key was revoked" });
    // Refusals are not cached: the kernel is asked each time.
    await expect(echoOnce(echo, withKey())).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect(authentications).toBe(3);
  });

  test("a reserved header is refused by the kernel's rule, never cached", async () => {
    const refusing: Authenticator = async (method, metadata) => {
      if (metadata.get("x-ol-caller").length > 0) {
        throw Object.assign(new Error("reserved"), { code: grpc.status.UNAUTHENTICATED, details: "header x-ol-caller is reserved for the kernel" });
      }
      return testAuthenticator(method, metadata);
    };
    echo.close();
    await dataPlane.close();
    dataPlane = await DataPlane.start({ gateway, directory, authenticate: refusing, listen: "127.0.0.1:0", stopGraceMs: 100 });
    echo = new EchoServiceClient(dataPlane.address, grpc.credentials.createInsecure());
    // The key is cached first: a reserved header must still reach the kernel's rule, not the cache.
    expect((await echoOnce(echo, withKey())).caller).toBe(CALLER);
    await expect(echoOnce(echo, withKey(API_KEY, { "x-ol-caller": CALLER }))).rejects.toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
      details: "header x-ol-caller is reserved for the kernel",
    });
    expect((await echoOnce(echo, withKey())).caller).toBe(CALLER);
    expect(plugin.seen.metadata).toHaveLength(2);
  });

  test("health of the union is served on the data plane's port", async () => {
    const client = new grpc.Client(dataPlane.address, grpc.credentials.createInsecure());
    const check = (service: string): Promise<Buffer> =>
      new Promise((resolve, reject) => {
        // grpc.health.v1.HealthCheckRequest { service = 1 }
        const request = Buffer.concat([Buffer.from([0x0a, service.length]), Buffer.from(service)]);
        client.makeUnaryRequest("/grpc.health.v1.Health/Check", (b: Buffer) => b, (b: Buffer) => b, request, new grpc.Metadata(), (error, reply) =>
          error ? reject(error) : resolve(reply!),
        );
      });
    // HealthCheckResponse { status = 1 }: SERVING is 1.
    expect(await check(ECHO_SERVICE)).toEqual(Buffer.from([0x08, 0x01]));
    directory.update("echo", { state: "backoff", reason: "exited with code 1" });
    expect(await check(ECHO_SERVICE)).toEqual(Buffer.from([0x08, 0x02]));
    client.close();
  });

  test("server reflection of the union is served on the data plane's port", async () => {
    const client = new grpc.Client(dataPlane.address, grpc.credentials.createInsecure());
    const call = client.makeBidiStreamRequest("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", (b: Buffer) => b, (b: Buffer) => b);
    // ServerReflectionRequest { list_services = 7: "" }
    const reply = new Promise<Buffer>((resolve, reject) => {
      call.once("data", resolve);
      call.once("error", reject);
    });
    call.write(Buffer.from([0x3a, 0x00]));
    const listed = (await reply).toString("latin1");
    call.end();
    for (const service of [ECHO_SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"]) expect(listed).toContain(service);
    client.close();
  });

  test("a killed ol-gateway is restarted on the same address, with the routes", async () => {
    expect((await echoOnce(echo, withKey())).caller).toBe(CALLER);
    const first = dataPlane.pid;
    process.kill(first, "SIGKILL");
    for (let tries = 0; tries < 100 && dataPlane.pid === first; tries++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(dataPlane.pid).not.toBe(first);
    expect((await echoOnce(echo, withKey())).caller).toBe(CALLER);
    // Routed by the new process itself, not handed to the grpc-js gateway: it reports the call.
    await dataPlane.synced();
    reported.length = 0;
    await echoOnce(echo, withKey());
    expect((await reportedCalls(1))[0]).toMatchObject({ method: ECHO, code: grpc.status.OK });
  });

  test("ol-gateway exits when the kernel's control socket closes (the kernel died)", async () => {
    const controlPath = path.join(socketDir, "orphan-control.sock");
    const control = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => control.listen(controlPath, resolve));
    const orphan = spawn(path.resolve(__dirname, "../../../.tools/bin/ol-gateway"), [
      "--listen=127.0.0.1:0",
      `--upstream=${gateway.address}`,
      `--control=${controlPath}`,
    ]);
    const exitCode = await new Promise<number | null>((resolve) => orphan.once("exit", resolve));
    control.close();
    expect(exitCode).toBe(0);
  });
});
