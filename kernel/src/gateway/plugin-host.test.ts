// The gateway in front of the real plugin host and the echo-ts plugin process: routes come from
// what the host learned through reflection, and a crashed plugin is UNAVAILABLE (named) until the
// host has restarted it, then reachable again without any action on the gateway; through the grpc-js
// gateway alone and through the Go data plane in front of it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { EchoRequest, EchoServiceClient, type EchoResponse } from "@openledger/sdk/gen/openledger/examples/v1/echo";
import { PluginHost } from "../host";
import { API_KEY, CALLER, testAuthenticator } from "./__tests__/fixtures";
import { DataPlane } from "./data-plane";
import { Gateway } from "./gateway";

const ROOT = resolve(__dirname, "../../..");

beforeAll(() => {
  // The plugin runs as its own node process, from its compiled output (and the SDK's).
  execFileSync(join(ROOT, "node_modules/.bin/tsc"), ["-b", "kernel/sdk", "plugins/examples/echo-ts"], { cwd: ROOT, stdio: "inherit" });
}, 180_000);

// Through the grpc-js Gateway alone, and through the Go data plane in front of it (the kernel's way).
describe.each([
  { front: "grpc-js gateway", withDataPlane: false },
  { front: "Go data plane", withDataPlane: true },
])("$front", ({ withDataPlane }) => {
  const scratch = mkdtempSync(join(tmpdir(), "ol-gateway-host-"));
  let host: PluginHost;
  let gateway: Gateway;
  let dataPlane: DataPlane | undefined;
  let echo: EchoServiceClient;

  beforeAll(async () => {
    const quiet = (): void => {};
    host = new PluginHost({
      pluginDirs: [join(ROOT, "plugins/examples/echo-ts")],
      dataDir: scratch,
      initialBackoffMs: 300,
      logger: { debug: quiet, info: quiet, warn: quiet, error: quiet },
    });
    await host.start();
    gateway = new Gateway({ directory: host, authenticate: testAuthenticator });
    let address: string;
    if (withDataPlane) {
      await gateway.listen(`unix:${join(scratch, "gateway.sock")}`);
      dataPlane = await DataPlane.start({ gateway, directory: host, authenticate: testAuthenticator, listen: "127.0.0.1:0", stopGraceMs: 100 });
      address = dataPlane.address;
    } else {
      address = await gateway.listen("127.0.0.1:0");
    }
    echo = new EchoServiceClient(address, grpc.credentials.createInsecure());
  }, 180_000);

  afterAll(async () => {
    echo?.close();
    await dataPlane?.close();
    await gateway?.close(100);
    await host?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  function callEcho(message: string): Promise<EchoResponse> {
    const metadata = new grpc.Metadata();
    metadata.set("x-api-key", API_KEY);
    return new Promise((resolvePromise, reject) =>
      echo.echo(EchoRequest.fromPartial({ message }), metadata, (error, response) => (error ? reject(error) : resolvePromise(response!))),
    );
  }

  test("a crashed plugin is UNAVAILABLE by name until the host restarts it", async () => {
    expect(await callEcho("before")).toMatchObject({ message: "before", caller: CALLER });
    const running = host.get("echo-ts")!;
    const backoff = host.waitFor("echo-ts", (plugin) => plugin.state === "backoff");
    process.kill(running.pid, "SIGKILL");
    await backoff;
    // The host's state changes reach the data plane over its control socket.
    await dataPlane?.synced();
    await expect(callEcho("during")).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: expect.stringMatching(/^plugin echo-ts is unavailable: /),
    });
    await host.waitFor("echo-ts", (plugin) => plugin.state === "ready");
    await dataPlane?.synced();
    expect(await callEcho("after")).toMatchObject({ message: "after", caller: CALLER });
    expect(host.get("echo-ts")!.restarts).toBe(1);
  }, 60_000);
});
