// Small unary calls to the echo-ts plugin, directly and through the kernel gateway, in the same run:
// p50/p99 latency (one call at a time) and throughput (N calls in flight), printed as ratios.
// Three processes, as in production: this one is the client; a child is the kernel (PluginHost +
// Gateway), which starts echo-ts as its own process.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import * as grpc from "@grpc/grpc-js";
import { CredentialStore, DataPlane, Gateway, KernelAuth, PluginHost, publicMethodsOf, Telemetry } from "@openledger/kernel";
import { examplesV1 } from "@openledger/sdk";

const ROOT = path.resolve(__dirname, "../../..");
const ECHO_PATH = "/openledger.examples.v1.EchoService/Echo";

const PATH_NAMES = ["direct", "grpc-js gw", "ol-gateway"] as const;
type PathName = (typeof PATH_NAMES)[number];

interface Settings {
  calls: number;
  concurrency: number;
  seconds: number;
  rounds: number;
  /** Which paths to measure (all by default; one alone, e.g. to profile its processes). */
  paths: PathName[];
}

function settings(argv: string[]): Settings {
  const value = (name: string, fallback: number): number => {
    const index = argv.indexOf(`--${name}`);
    const parsed = index >= 0 ? Number(argv[index + 1]) : fallback;
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive number`);
    return parsed;
  };
  const pathsIndex = argv.indexOf("--paths");
  const paths = pathsIndex >= 0 ? (argv[pathsIndex + 1] ?? "").split(",") : [...PATH_NAMES];
  for (const name of paths) {
    if (!(PATH_NAMES as readonly string[]).includes(name)) throw new Error(`--paths: "${name}" is not one of ${PATH_NAMES.join(", ")}`);
  }
  return {
    calls: value("calls", 3000),
    concurrency: value("concurrency", 16),
    seconds: value("seconds", 3),
    rounds: value("rounds", 3),
    paths: paths as PathName[],
  };
}

/** The kernel side, as the kernel wires it: plugin host, the grpc-js gateway on a private Unix
 *  socket, the Go data plane (ol-gateway) on the public port, the kernel's own API-key
 *  authentication; prints {"gateway","grpcJs","plugin","pluginPid","dataPlanePid","apiKey"}, stops on SIGTERM. */
async function serveKernel(): Promise<void> {
  const quiet = (): void => {};
  const host = new PluginHost({
    pluginDirs: [path.join(ROOT, "plugins/examples/echo-ts")],
    listen: "unix",
    logger: { debug: quiet, info: quiet, warn: quiet, error: (fields, message) => console.error(message, fields) },
  });
  await host.start();
  const plugin = host.get("echo-ts");
  if (plugin?.state !== "ready") throw new Error(`echo-ts is not ready: ${plugin?.reason}`);
  const authDir = mkdtempSync(path.join(tmpdir(), "ol-bench-auth-"));
  const auth = new KernelAuth({
    store: new CredentialStore(authDir),
    admins: [],
    isPublic: publicMethodsOf(host),
    siwe: { domain: "localhost", uri: "http://localhost", chainId: 31337 },
    sessionTtlMs: 60_000,
    nonceTtlMs: 60_000,
  });
  const { apiKey } = auth.store.createApiKey("0x00000000000000000000000000000000000be7c4", "bench", false);
  const gateway = new Gateway({ directory: host, authenticate: auth.authenticate });
  await gateway.listen(`unix:${path.join(authDir, "gateway.sock")}`);
  // The kernel's own telemetry with its defaults (spans created, not exported): the call records
  // become spans and metrics here exactly as in the kernel.
  const telemetry = new Telemetry({ serviceName: "bench-kernel", otlpEndpoint: "", logLevel: "silent" });
  const dataPlane = await DataPlane.start({
    gateway,
    directory: host,
    authenticate: auth.authenticate,
    listen: "127.0.0.1:0",
    onCalls: (calls) => telemetry.recordRelayedCalls(calls),
    stopGraceMs: 100,
  });
  // The grpc-js gateway on TCP as well: the public path before the data plane, measured in the same run.
  const grpcJs = await gateway.listen("127.0.0.1:0");
  console.log(JSON.stringify({ gateway: dataPlane.address, grpcJs, plugin: plugin.address, pluginPid: plugin.pid, dataPlanePid: dataPlane.pid, apiKey }));
  process.once("SIGTERM", () => {
    void dataPlane
      .close()
      .then(() => gateway.close(100))
      .then(() => host.stop())
      .then(() => rmSync(authDir, { recursive: true, force: true }))
      .then(() => process.exit(0));
  });
}

const passBytes = (value: Buffer): Buffer => value;

function call(client: grpc.Client, request: Buffer, metadata: grpc.Metadata): Promise<void> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(ECHO_PATH, passBytes, passBytes, request, metadata, (error) => (error ? reject(error) : resolve())),
  );
}

interface Figures {
  p50: number;
  p99: number;
  callsPerSecond: number;
  /** CPU time per call (µs) during the throughput phase, in each process. */
  clientCpu: number;
  kernelCpu: number;
  dataPlaneCpu: number;
  pluginCpu: number;
  /** CPU time per call (µs) during the sequential (latency) phase: what the p50 is made of. */
  clientCpuSequential: number;
  dataPlaneCpuSequential: number;
  pluginCpuSequential: number;
}

/** CPU time (user + system) a process has used, in µs, from /proc (clock ticks of 10 ms). */
function processCpu(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
}

interface Pids {
  kernel: number;
  /** ol-gateway, the kernel's data plane. */
  dataPlane: number;
  plugin: number;
}

async function measure(client: grpc.Client, request: Buffer, metadata: grpc.Metadata, s: Settings, pids: Pids): Promise<Figures> {
  for (let i = 0; i < 300; i++) await call(client, request, metadata);
  const latencies: number[] = [];
  const cpuBeforeSequential = cpuNow(pids);
  for (let i = 0; i < s.calls; i++) {
    const start = process.hrtime.bigint();
    await call(client, request, metadata);
    latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const cpuSequential = cpuSince(cpuBeforeSequential, pids);
  latencies.sort((a, b) => a - b);
  const until = Date.now() + s.seconds * 1000;
  let completed = 0;
  const cpuBefore = cpuNow(pids);
  const began = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: s.concurrency }, async () => {
      while (Date.now() < until) {
        await call(client, request, metadata);
        completed++;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - began) / 1e9;
  const cpu = cpuSince(cpuBefore, pids);
  return {
    p50: latencies[Math.floor(latencies.length * 0.5)],
    p99: latencies[Math.floor(latencies.length * 0.99)],
    callsPerSecond: completed / elapsed,
    clientCpu: cpu.client / completed,
    kernelCpu: cpu.kernel / completed,
    dataPlaneCpu: cpu.dataPlane / completed,
    pluginCpu: cpu.plugin / completed,
    clientCpuSequential: cpuSequential.client / s.calls,
    dataPlaneCpuSequential: cpuSequential.dataPlane / s.calls,
    pluginCpuSequential: cpuSequential.plugin / s.calls,
  };
}

interface CpuTimes {
  client: number;
  kernel: number;
  dataPlane: number;
  plugin: number;
}

/** CPU time (µs) each process has used so far. */
function cpuNow(pids: Pids): CpuTimes {
  const client = process.cpuUsage();
  return { client: client.user + client.system, kernel: processCpu(pids.kernel), dataPlane: processCpu(pids.dataPlane), plugin: processCpu(pids.plugin) };
}

function cpuSince(before: CpuTimes, pids: Pids): CpuTimes {
  const now = cpuNow(pids);
  return { client: now.client - before.client, kernel: now.kernel - before.kernel, dataPlane: now.dataPlane - before.dataPlane, plugin: now.plugin - before.plugin };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function runClient(s: Settings): Promise<void> {
  const kernel = spawn(process.execPath, [...(process.env.BENCH_KERNEL_NODE_OPTIONS ?? "").split(" ").filter(Boolean), __filename, "--serve"], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: kernel.stdout! }).once("line", resolve);
      kernel.once("exit", (code) => reject(new Error(`kernel process exited with ${code}`)));
    });
    const addresses = JSON.parse(first) as { gateway: string; grpcJs: string; plugin: string; pluginPid: number; dataPlanePid: number; apiKey: string };
    const pids = { kernel: kernel.pid!, dataPlane: addresses.dataPlanePid, plugin: addresses.pluginPid };
    const request = Buffer.from(examplesV1.EchoRequest.encode({ message: "ping", payload: Buffer.alloc(0) }).finish());
    const metadata = new grpc.Metadata();
    metadata.set("x-api-key", addresses.apiKey);
    const addressOf: Record<PathName, string> = { direct: addresses.plugin, "grpc-js gw": addresses.grpcJs, "ol-gateway": addresses.gateway };
    const paths = s.paths.map((name) => ({ name, client: new grpc.Client(addressOf[name], grpc.credentials.createInsecure()) }));
    const rounds: Figures[][] = [];
    for (let round = 0; round < s.rounds; round++) {
      // Interleaved, so drift in machine load hits every path alike.
      const figures: Figures[] = [];
      for (const { client } of paths) figures.push(await measure(client, request, metadata, s, pids));
      rounds.push(figures);
    }
    for (const { client } of paths) client.close();
    const pick = (path: number, figure: keyof Figures): number => median(rounds.map((r) => r[path][figure]));
    const row = (name: string, figure: keyof Figures, digits: number): string =>
      `${name.padEnd(30)}${paths.map((_, i) => pick(i, figure).toFixed(digits).padStart(12)).join("")}`;
    console.log(`gateway bench: unary Echo (4-byte message), ${s.calls} sequential calls, ${s.concurrency} in flight for ${s.seconds} s, median of ${s.rounds} rounds`);
    console.log(`${"".padEnd(30)}${paths.map((p) => p.name.padStart(12)).join("")}`);
    console.log(row("p50 latency (ms)", "p50", 3));
    console.log(row("p99 latency (ms)", "p99", 3));
    console.log(row("throughput (calls/s)", "callsPerSecond", 0));
    console.log(row("CPU per call, client (µs)", "clientCpu", 0));
    console.log(row("CPU per call, kernel Node (µs)", "kernelCpu", 0));
    console.log(row("CPU per call, ol-gateway (µs)", "dataPlaneCpu", 0));
    console.log(row("CPU per call, plugin (µs)", "pluginCpu", 0));
    console.log("one call at a time:");
    console.log(row("CPU per call, client (µs)", "clientCpuSequential", 0));
    console.log(row("CPU per call, ol-gateway (µs)", "dataPlaneCpuSequential", 0));
    console.log(row("CPU per call, plugin (µs)", "pluginCpuSequential", 0));
    const direct = paths.findIndex((p) => p.name === "direct");
    for (const [i, { name }] of paths.entries()) {
      if (direct < 0 || i === direct) continue;
      const added = pick(i, "p50") - pick(direct, "p50");
      const share = (100 * pick(i, "callsPerSecond")) / pick(direct, "callsPerSecond");
      console.log(`${name}: p50 added ${added.toFixed(3)} ms (target < 0.3 ms), throughput ${share.toFixed(0)}% of direct (target >= 70%)`);
    }
  } finally {
    kernel.kill("SIGTERM");
  }
}

if (process.argv.includes("--serve")) {
  serveKernel().catch((error) => {
    console.error(error);
    process.exit(1);
  });
} else {
  runClient(settings(process.argv.slice(2))).catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
