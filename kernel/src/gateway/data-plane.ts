// The kernel's data plane: ol-gateway (kernel/gateway-go), a Go process that owns the public gRPC
// port and relays plugin calls straight to the plugins, so a call costs the kernel's Node process
// nothing once its caller's credential is known. The kernel stays the control plane: it pushes the
// route table (from the Gateway's catalog and the plugin directory), answers "who is this
// credential?" with its own Authenticator, tells the data plane to forget credentials it revoked,
// and receives a record of every relayed call for its metrics and spans. Everything the data plane
// does not route itself (kernel services, health, reflection) goes to the Gateway on a private
// Unix socket.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { Metadata, status as Status } from "@grpc/grpc-js";
import { spawnManaged, type ManagedProcess } from "@openledger/sdk";
import type { RelayedCall } from "../telemetry/telemetry";
import type { Authenticator, PluginDirectory } from "../types";
import { DEFAULT_MAX_MESSAGE_BYTES, KERNEL_OWNER, toServiceError, type Gateway, type KeepaliveOptions } from "./gateway";
import { DEFAULT_CREDENTIAL_HEADERS } from "./metadata";

/** Environment variable naming the ol-gateway binary (default: .tools/bin/ol-gateway, built by `make build`). */
export const DATA_PLANE_BINARY_ENV = "OL_GATEWAY_BIN";

/** One call the data plane relayed to a plugin: what the kernel records as its span and metrics. */
export type DataPlaneCall = RelayedCall;

export interface DataPlaneLogger {
  warn(message: string): void;
  error(message: string): void;
}

export interface DataPlaneOptions {
  /** The kernel's Gateway, already listening (on a Unix socket: `listen("unix:/path")`): it serves
   *  what the data plane does not route, and its catalog says which methods are whose. */
  gateway: Gateway;
  directory: PluginDirectory;
  authenticate: Authenticator;
  /** Public address: "host:port" (port 0: any) or "unix:/path". */
  listen: string;
  /** Default 16 MiB each; beyond them RESOURCE_EXHAUSTED. */
  maxReceiveMessageBytes?: number;
  maxSendMessageBytes?: number;
  keepalive?: KeepaliveOptions;
  /** Default: authorization, cookie, x-api-key. Never forwarded to plugins. */
  credentialHeaders?: string[];
  /** How long the kernel's answer for a credential is reused. Default 1000 ms. Revocations clear it
   *  at once (invalidateCredentials). */
  authCacheMs?: number;
  /** Receives the relayed calls, in batches (every 100 ms at most). Without it none are reported. */
  onCalls?: (calls: DataPlaneCall[]) => void;
  /** The ol-gateway binary. Default: $OL_GATEWAY_BIN, else .tools/bin/ol-gateway. */
  binary?: string;
  /** Calls in flight get this long to finish on close(). Default 5000 ms. */
  stopGraceMs?: number;
  logger?: DataPlaneLogger;
}

/** Messages the kernel receives from the data plane on the control socket. */
type Inbound =
  | { type: "applied"; version: number }
  | { type: "resolve"; id: number; method: string; headers: Record<string, string[]> }
  | { type: "calls"; calls: DataPlaneCall[] };

function defaultBinary(): string {
  // Same relative path from kernel/src/gateway (tests) and kernel/dist/gateway (built).
  return process.env[DATA_PLANE_BINARY_ENV] || path.resolve(__dirname, "../../../.tools/bin/ol-gateway");
}

/**
 * GODEBUG for ol-gateway: the caller's, plus schedtrace at its largest period (24.8 days). Go's
 * sysmon thread otherwise sleeps whenever the process is idle, is woken by the first system call
 * after it, and then polls every 20 µs: between calls arriving one at a time that was 4–5 extra
 * thread wake-ups per call (~0.09 ms of a call's latency, bench/gateway). While schedtrace is set
 * sysmon never sleeps that way and backs off to one wake-up per 10 ms; its other effects are a
 * trace line once per period (on stderr, logged as a warning) and a scheduler dump if it crashes.
 */
function dataPlaneGodebug(inherited: string | undefined): string {
  // A schedtrace set by hand (to debug the scheduler) is kept.
  if (!inherited) return "schedtrace=2147483647";
  return /(^|,)schedtrace=/.test(inherited) ? inherited : `${inherited},schedtrace=2147483647`;
}

function flagDuration(ms: number): string {
  return `${Math.max(0, Math.round(ms))}ms`;
}

interface Launched {
  process: ManagedProcess;
  control: Socket;
  /** The address it serves. */
  address: string;
}

/** Starts ol-gateway serving `listen`; resolves once it serves, connected to `controlServer`. */
async function launch(options: DataPlaneOptions, binary: string, upstream: string, controlServer: Server, controlPath: string, listen: string): Promise<Launched> {
  const connected = new Promise<Socket>((resolve) =>
    controlServer.once("connection", (socket: Socket) => {
      // Until the DataPlane attaches it (and logs its errors), a broken control socket shows as a failed start.
      socket.on("error", () => {});
      resolve(socket);
    }),
  );
  const keepalive = options.keepalive ?? {};
  const args = [
    `--listen=${listen}`,
    `--upstream=${upstream}`,
    `--control=${controlPath}`,
    `--max-receive-bytes=${options.maxReceiveMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES}`,
    `--max-send-bytes=${options.maxSendMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES}`,
    `--credential-headers=${(options.credentialHeaders ?? DEFAULT_CREDENTIAL_HEADERS).join(",")}`,
    `--auth-cache=${flagDuration(options.authCacheMs ?? 1000)}`,
    `--grace=${flagDuration(options.stopGraceMs ?? 5000)}`,
  ];
  if (options.onCalls) args.push("--report-calls=100ms");
  if (keepalive.timeMs !== undefined) args.push(`--keepalive-time=${flagDuration(keepalive.timeMs)}`);
  if (keepalive.timeoutMs !== undefined) args.push(`--keepalive-timeout=${flagDuration(keepalive.timeoutMs)}`);
  if (keepalive.minClientPingIntervalMs !== undefined) args.push(`--min-ping-interval=${flagDuration(keepalive.minClientPingIntervalMs)}`);
  if (keepalive.maxConnectionIdleMs !== undefined) args.push(`--max-connection-idle=${flagDuration(keepalive.maxConnectionIdleMs)}`);
  if (keepalive.maxConnectionAgeMs !== undefined) args.push(`--max-connection-age=${flagDuration(keepalive.maxConnectionAgeMs)}`);
  let address = listen;
  const process = await spawnManaged(binary, args, {
    env: { ...globalThis.process.env, GODEBUG: dataPlaneGodebug(globalThis.process.env.GODEBUG) },
    readyLine: /^ol-gateway listening on /,
    readyTimeoutMs: 10_000,
    stopGraceMs: (options.stopGraceMs ?? 5000) + 1000,
    onLine: (line) => {
      const listening = /^ol-gateway listening on (\S+)$/.exec(line);
      if (listening) address = listening[1];
      else options.logger?.warn(line);
    },
  });
  // ol-gateway connects to the control socket before it listens, so it is connected by now.
  return { process, control: await connected, address };
}

export class DataPlane {
  private readonly unsubscribe: () => void;
  private closing: Promise<void> | undefined;
  /** Route and invalidation messages sent, and acknowledged as in effect. */
  private pushed = 0;
  private applied = 0;
  private readonly syncWaiters: { version: number; resolve: () => void }[] = [];
  // Set by attach(), again at each restart.
  private process!: ManagedProcess;
  private control!: Socket;
  /** The bound public address (kept when ol-gateway is restarted). */
  readonly address: string;

  private constructor(
    private readonly options: DataPlaneOptions,
    private readonly binary: string,
    private readonly upstream: string,
    private readonly controlServer: Server,
    private readonly controlDir: string,
    launched: Launched,
  ) {
    this.address = launched.address;
    this.unsubscribe = options.directory.onChange(() => this.pushRoutes());
    this.attach(launched);
  }

  /** Starts ol-gateway in front of `options.gateway`; resolves once it serves `options.listen`. */
  static async start(options: DataPlaneOptions): Promise<DataPlane> {
    const upstream = options.gateway.address;
    if (upstream === undefined) throw new Error("the kernel's gateway must listen before the data plane starts");
    const binary = options.binary ?? defaultBinary();
    if (!existsSync(binary)) throw new Error(`ol-gateway not found at ${binary} (run make build, or set ${DATA_PLANE_BINARY_ENV})`);
    const controlDir = mkdtempSync(path.join(tmpdir(), "ol-gw-"));
    const controlServer = createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        controlServer.once("error", reject);
        controlServer.listen(path.join(controlDir, "control.sock"), () => resolve());
      });
      const launched = await launch(options, binary, upstream, controlServer, path.join(controlDir, "control.sock"), options.listen);
      return new DataPlane(options, binary, upstream, controlServer, controlDir, launched);
    } catch (error) {
      controlServer.close();
      rmSync(controlDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Takes a (re)started ol-gateway on: its control socket, the whole route table, its supervision. */
  private attach(launched: Launched): void {
    this.process = launched.process;
    this.control = launched.control;
    createInterface({ input: launched.control })
      .on("line", (line) => this.receive(line))
      // readline repeats its input's errors; the socket's own listener below reports them.
      .on("error", () => {});
    launched.control.on("error", (error) => {
      // Stopping ol-gateway resets the socket when a message was still unread; that is no news.
      if (this.closing === undefined) this.options.logger?.error(`data plane control socket: ${error.message}`);
    });
    this.pushRoutes();
    void launched.process.exited.then((how) => this.relaunch(how));
  }

  /** Restarts ol-gateway on the same address after it died, with growing pauses between failed tries. */
  private async relaunch(how: number | string): Promise<void> {
    if (this.closing) return;
    this.control.destroy();
    this.options.logger?.error(`the data plane (ol-gateway) exited unexpectedly (${how}); restarting it`);
    for (let pauseMs = 200; this.closing === undefined; pauseMs = Math.min(pauseMs * 2, 30_000)) {
      try {
        const launched = await launch(this.options, this.binary, this.upstream, this.controlServer, path.join(this.controlDir, "control.sock"), this.address);
        if (this.closing) {
          await launched.process.stop();
          return;
        }
        this.attach(launched);
        return;
      } catch (error) {
        this.options.logger?.error(`restarting the data plane failed: ${error instanceof Error ? error.message : String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    }
  }

  /** Forget every credential the data plane has cached (call it when one is revoked). */
  invalidateCredentials(): void {
    this.sendVersioned({ type: "invalidate" });
  }

  /** Resolves once the data plane applies every route change and invalidation sent so far. */
  synced(): Promise<void> {
    if (this.applied >= this.pushed) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push({ version: this.pushed, resolve }));
  }

  /** Stops the data plane: no new calls, those in flight get the grace period, then it exits. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.unsubscribe();
      await this.process.stop();
      // Nothing will be applied any more; nobody should wait for it.
      for (const waiter of this.syncWaiters.splice(0)) waiter.resolve();
      this.control.destroy();
      await new Promise<void>((resolve) => this.controlServer.close(() => resolve()));
      rmSync(this.controlDir, { recursive: true, force: true });
    })();
    return this.closing;
  }

  /** Pid of the ol-gateway process. */
  get pid(): number {
    return this.process.pid;
  }

  private send(message: object): void {
    if (!this.control.destroyed) this.control.write(`${JSON.stringify(message)}\n`);
  }

  private sendVersioned(message: object): void {
    this.pushed += 1;
    this.send({ ...message, version: this.pushed });
  }

  private acknowledge(version: number): void {
    this.applied = Math.max(this.applied, version);
    for (let i = this.syncWaiters.length - 1; i >= 0; i--) {
      if (this.syncWaiters[i].version <= this.applied) this.syncWaiters.splice(i, 1)[0].resolve();
    }
  }

  /** The route table: every plugin method of the Gateway's catalog, and each plugin's address,
   *  credential and state (a plugin that is not ready keeps its routes and gets UNAVAILABLE). */
  private pushRoutes(): void {
    const methods = this.options.gateway
      .list()
      .filter((method) => method.plugin !== KERNEL_OWNER)
      .map((method) => ({ path: method.path, plugin: method.plugin, unary: !method.clientStreaming && !method.serverStreaming }));
    const plugins = this.options.directory.list().map((plugin) => ({
      name: plugin.name,
      address: plugin.address,
      credential: plugin.credential.toString("hex"),
      ready: plugin.state === "ready",
      reason: plugin.reason || plugin.state,
    }));
    this.sendVersioned({ type: "routes", plugins, methods });
  }

  private receive(line: string): void {
    let message: Inbound;
    try {
      message = JSON.parse(line) as Inbound;
    } catch {
      this.options.logger?.error(`undecodable message from the data plane: ${line.slice(0, 200)}`);
      return;
    }
    if (message.type === "applied") this.acknowledge(message.version);
    else if (message.type === "resolve") this.resolve(message.id, message.method, message.headers);
    else if (message.type === "calls") this.options.onCalls?.(message.calls);
  }

  /** Answers "who is calling?" with the kernel's Authenticator, exactly as the Gateway would. */
  private resolve(id: number, method: string, headers: Record<string, string[]>): void {
    const refuse = (error: unknown): void => {
      const { code, details } = toServiceError(error, Status.UNAUTHENTICATED);
      this.send({ type: "resolved", id, code, message: details });
    };
    try {
      const metadata = new Metadata();
      for (const [name, values] of Object.entries(headers)) {
        for (const value of values) metadata.add(name, name.endsWith("-bin") ? Buffer.from(value, "latin1") : value);
      }
      this.options.authenticate(method, metadata).then((identity) => this.send({ type: "resolved", id, identity }), refuse);
    } catch (error) {
      refuse(error);
    }
  }
}
