// THE end-to-end test of `ol`: `ol up --detach` on a fresh data dir and free ports brings up the
// kernel, the Temporal dev server, anvil (with the platform contracts) and the example plugins;
// `ol status --json` shows them ready; the kernel answers over gRPC and HTTP; `ol down` stops
// everything and no process is left. Runs the built CLI (kernel/dist: `npx tsc -b` first).
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { examplesV1 } from "@openledger/sdk";
import { descendantsOf, isAlive, kernelFiles } from "./cli/kernel-files";
import type { StatusReport } from "./cli/commands/status";

const run = promisify(execFile);

/** Processes whose command line mentions `text` (the embedded services name the data dir in theirs). */
function processesMentioning(text: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(text) && isAlive(Number(entry));
      } catch {
        return false;
      }
    })
    .map(Number);
}
const REPO = path.resolve(__dirname, "../..");
const CLI = path.join(REPO, "kernel/dist/cli/main.js");

describe("ol up --detach / status / down", () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  const started: number[] = [];

  const ol = (...args: string[]) => run(process.execPath, [CLI, ...args], { env, cwd: dataDir, timeout: 240_000 });

  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx tsc -b\` first`);
    dataDir = mkdtempSync(path.join(tmpdir(), "ol-e2e-"));
    env = {
      ...process.env,
      OL_DATA_DIR: dataDir,
      OL_GATEWAY__PORT: "0",
      OL_HTTP__PORT: "0",
      OL_METRICS__PORT: "0",
      OL_PLUGINS__DIRS: path.join(REPO, "plugins/examples"),
      OL_TELEMETRY__LOG_LEVEL: "warn",
    };
  });

  afterAll(async () => {
    // Whatever happened above, leave nothing running.
    for (const pid of started) if (isAlive(pid)) process.kill(pid, "SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("brings everything up, reports it, serves calls, and takes it all down", async () => {
    const up = await ol("up", "--detach");
    expect(up.stdout).toMatch(/OpenLedger kernel running in the background \(pid \d+/);
    expect(up.stdout).toMatch(/Bootstrap admin API key[^\n]*\n\s+ol_[0-9a-f]{12}_/);
    const kernelPid = Number(readFileSync(kernelFiles(dataDir).pid, "utf8"));
    started.push(kernelPid, ...descendantsOf(kernelPid));

    const status = JSON.parse((await ol("status", "--json")).stdout) as StatusReport;
    expect(status.kernel.pid).toBe(kernelPid);
    expect(status.embedded.map((e) => [e.name, e.running])).toEqual([
      ["anvil", true],
      ["temporal", true],
    ]);
    const echo = status.plugins.find((p) => p.name === "echo-ts");
    expect(echo).toMatchObject({ state: "ready", restarts: 0, services: ["openledger.examples.v1.EchoService"] });
    expect(status.plugins.every((p) => p.state === "ready")).toBe(true);
    expect(isAlive(echo!.pid)).toBe(true);
    const pids = [kernelPid, ...status.embedded.map((e) => e.pid), ...status.plugins.map((p) => p.pid), ...descendantsOf(kernelPid)];
    started.push(...pids);

    // The kernel's own AuthService through the gateway, over HTTP/JSON, with the bootstrap admin key.
    const adminKey = readFileSync(path.join(dataDir, "auth/admin-api-key"), "utf8").trim();
    const whoAmI = await fetch(`http://${status.kernel.http}/rpc/openledger.kernel.v1.AuthService/WhoAmI`, {
      method: "POST",
      headers: { "x-api-key": adminKey },
      body: "{}",
    });
    expect(await whoAmI.json()).toMatchObject({ authMethod: "apikey", admin: true });
    // The caller's W3C trace continues through the kernel's spans to the plugin.
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const echoed = await fetch(`http://${status.kernel.http}/rpc/openledger.examples.v1.EchoService/Echo`, {
      method: "POST",
      headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` },
      body: '{"message":"hi"}',
    });
    const echoBody = (await echoed.json()) as { message: string; caller: string; metadata: Record<string, string> };
    expect(echoBody).toMatchObject({ message: "hi", caller: "" });
    expect(echoBody.metadata.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(echoBody.metadata.traceparent).not.toContain("b7ad6b7169203331");
    const metrics = await (await fetch(`http://${status.kernel.metrics}/metrics`)).text();
    expect(metrics).toContain('ol_plugin_state{plugin="echo-ts",state="ready"} 1');
    expect(metrics).toMatch(/ol_calls_total\{method="\/openledger.examples.v1.EchoService\/Echo",code="OK",transport="grpc"\} 1/);

    // An operator issues a key for a service's address; the plugin sees that address; revoked, it is refused.
    const service = "0x2222222222222222222222222222222222222222";
    const serviceKey = (await ol("keys", "create", "--address", service, "--label", "indexer")).stdout.trim();
    expect(serviceKey).toMatch(/^ol_[0-9a-f]{12}_/);
    const echoAs = (key: string) =>
      fetch(`http://${status.kernel.http}/rpc/openledger.examples.v1.EchoService/Echo`, { method: "POST", headers: { "x-api-key": key }, body: "{}" });
    expect(await (await echoAs(serviceKey)).json()).toMatchObject({ caller: service });
    expect((await ol("keys", "list", "--address", service)).stdout).toMatch(/indexer/);
    // The same over gRPC on the public port, which the Go data plane serves.
    const grpcClient = new grpc.Client(status.kernel.grpc, grpc.credentials.createInsecure());
    const grpcEchoAs = (key: string) =>
      new Promise<examplesV1.EchoResponse>((resolve, reject) => {
        const metadata = new grpc.Metadata();
        metadata.set("x-api-key", key);
        const request = Buffer.from(examplesV1.EchoRequest.encode({ message: "grpc", payload: Buffer.alloc(0) }).finish());
        grpcClient.makeUnaryRequest("/openledger.examples.v1.EchoService/Echo", (b: Buffer) => b, (b: Buffer) => b, request, metadata, (error, reply) =>
          error ? reject(error) : resolve(examplesV1.EchoResponse.decode(reply!)),
        );
      });
    expect(await grpcEchoAs(serviceKey)).toMatchObject({ message: "grpc", caller: service });
    // The data plane reports its calls to the kernel's metrics (every 100 ms): 2 over HTTP + 1 over gRPC.
    const echoCount = /ol_calls_total\{method="\/openledger.examples.v1.EchoService\/Echo",code="OK",transport="grpc"\} 3/;
    for (let tries = 0; tries < 50 && !echoCount.test(await (await fetch(`http://${status.kernel.metrics}/metrics`)).text()); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await (await fetch(`http://${status.kernel.metrics}/metrics`)).text()).toMatch(echoCount);
    await ol("keys", "revoke", serviceKey.split("_")[1]);
    expect((await echoAs(serviceKey)).status).toBe(401);
    // The data plane had the key cached; the revocation cleared it.
    await expect(grpcEchoAs(serviceKey)).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringMatching(/revoked/) });
    grpcClient.close();

    const plugins = await ol("plugins");
    expect(plugins.stdout).toMatch(/echo-ts\s+0\.1\.0\s+ready/);
    await expect(ol("up", "--detach")).rejects.toMatchObject({ stderr: expect.stringMatching(/already running/) });

    const down = await ol("down");
    expect(down.stdout).toMatch(new RegExp(`kernel ${kernelPid} stopped`));
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(kernelFiles(dataDir).pid)).toBe(false);
    await expect(ol("status")).rejects.toMatchObject({ stderr: expect.stringMatching(/no kernel is running/) });

    // A second start on the same data dir keeps its state: the admin key is not made (or shown)
    // again and still works, and the plugins come back.
    const again = await ol("up", "--detach");
    expect(again.stdout).not.toMatch(/Bootstrap admin API key/);
    const secondPid = Number(readFileSync(kernelFiles(dataDir).pid, "utf8"));
    started.push(secondPid, ...descendantsOf(secondPid));
    const restarted = JSON.parse((await ol("status", "--json")).stdout) as StatusReport;
    expect(restarted.plugins.find((p) => p.name === "echo-ts")?.state).toBe("ready");
    const whoAmIAgain = await fetch(`http://${restarted.kernel.http}/rpc/openledger.kernel.v1.AuthService/WhoAmI`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}` },
      body: "{}",
    });
    expect(await whoAmIAgain.json()).toMatchObject({ admin: true });
    const secondFamily = [secondPid, ...descendantsOf(secondPid)];
    await ol("down");
    expect(secondFamily.filter(isAlive)).toEqual([]);
  }, 300_000);

  test("a start that fails (HTTP port taken) says why and stops what it had started", async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as { port: number }).port)));
    try {
      const failedDir = mkdtempSync(path.join(tmpdir(), "ol-e2e-fail-"));
      const failing = run(process.execPath, [CLI, "up"], { env: { ...env, OL_DATA_DIR: failedDir, OL_HTTP__PORT: String(port) }, cwd: failedDir, timeout: 240_000 });
      await expect(failing).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining(`HTTP/JSON cannot listen on 127.0.0.1:${port}: the port is in use`) });
      // Temporal and anvil had started (their state is in the data dir) and are gone again.
      expect(existsSync(path.join(failedDir, "temporal.db"))).toBe(true);
      expect(processesMentioning(failedDir)).toEqual([]);
      expect(existsSync(kernelFiles(failedDir).pid)).toBe(false);
      rmSync(failedDir, { recursive: true, force: true });
    } finally {
      blocker.close();
    }
  }, 300_000);
});
