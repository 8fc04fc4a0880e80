// The plugin host: discovers plugin directories, starts each plugin with the handshake
// environment, verifies it (health + reflection), supervises it (restart with backoff, crash-loop
// limit, graceful stop) and accepts remote plugins registered by address. It is the kernel's
// PluginDirectory: the gateway routes by what it reports.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, isAbsolute, join, resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import {
  ENV,
  MAGIC_COOKIE_KEY,
  MAGIC_COOKIE_VALUE,
  PROTOCOL_VERSIONS,
  ServingStatus,
  freePort,
  parseHandshake,
  spawnManaged,
  type HandshakeLine,
  type ManagedProcess,
} from "@openledger/sdk";
import type { PluginDirectory, PluginRuntime, PluginStateName } from "../types";
import { MANIFEST_FILE, loadManifest, validatePluginConfig, type PluginManifest } from "./manifest";
import { PluginRefusal, verifyPlugin, watchHealth } from "./probe";

type LogFn = (fields: object, message?: string) => void;
/** The part of a pino logger the host uses (a pino Logger fits). */
export interface HostLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

export interface PluginHostOptions {
  /** Directories that are plugin directories (contain plugin.json) or hold plugin directories. */
  pluginDirs: string[];
  /** The kernel's gRPC address, passed to plugins as OL_KERNEL_ADDRESS. */
  kernelAddress?: string;
  /** Config section per plugin name, validated against the plugin's configSchema. */
  configs?: Record<string, unknown>;
  /** Plugin data directories are created under it, one per plugin. Default: a fresh temp dir. */
  dataDir?: string;
  /** Where plugins listen: a Unix socket in a fresh 0700 directory (default), or 127.0.0.1:<free port>. */
  listen?: "unix" | "tcp";
  /** Handshake + verification must finish within it. Default 30 s. */
  startTimeoutMs?: number;
  /** SIGTERM, then SIGKILL after this. Default 5 s. */
  stopGraceMs?: number;
  /** First restart delay, doubled after each crash up to maxBackoffMs. Defaults 500 ms and 30 s. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** More than `maxCrashes` crashes within `crashWindowMs` = crash loop: state "failed". Defaults 5 and 60 s. */
  maxCrashes?: number;
  crashWindowMs?: number;
  /** Receives the host's logs and every plugin's, tagged { plugin }. Default: JSON lines on stderr. */
  logger?: HostLogger;
  /** Protocol versions offered to plugins. Default: the SDK's PROTOCOL_VERSIONS. */
  protocolVersions?: readonly number[];
}

export interface RemotePluginRegistration {
  name: string;
  version: string;
  /** "host:port" or "unix:/path". */
  address: string;
  services: string[];
  publicMethods?: string[];
}

/** The last stderr lines kept to explain a crash. */
const STDERR_TAIL = 10;

const PINO_LEVELS: Record<number, keyof HostLogger> = { 10: "debug", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "error" };

const stderrLogger: HostLogger = (() => {
  const write = (level: string) => (fields: object, message?: string) =>
    process.stderr.write(`${JSON.stringify({ level, time: Date.now(), ...fields, msg: message })}\n`);
  return { debug: () => undefined, info: write("info"), warn: write("warn"), error: write("error") };
})();

/** One plugin: the runtime record the directory reports, plus what the host needs to supervise it. */
interface HostedPlugin {
  runtime: PluginRuntime;
  manifest?: PluginManifest;
  dir?: string;
  config?: unknown;
  socketDir?: string;
  process?: ManagedProcess;
  client?: grpc.Client;
  healthWatch?: grpc.ClientReadableStream<unknown>;
  descriptors: Uint8Array[];
  crashTimes: number[];
  restartTimer?: NodeJS.Timeout;
  /** The start attempt in progress, which a stop waits for. */
  launching?: Promise<void>;
  /** Set while the host stops it on purpose: its exit is not a crash. */
  stopping: boolean;
  stderrTail: string[];
}

export class PluginHost implements PluginDirectory {
  private readonly plugins = new Map<string, HostedPlugin>();
  private readonly listeners = new Set<(plugin: PluginRuntime) => void>();
  private readonly logger: HostLogger;
  private readonly offered: readonly number[];
  private readonly dataRoot: string;
  private closed = false;

  constructor(private readonly options: PluginHostOptions) {
    this.logger = options.logger ?? stderrLogger;
    this.offered = options.protocolVersions ?? PROTOCOL_VERSIONS;
    this.dataRoot = options.dataDir ?? mkdtempSync(join(tmpdir(), "ol-plugin-data-"));
  }

  // ---- PluginDirectory ----

  list(): PluginRuntime[] {
    return [...this.plugins.values()].map((p) => snapshot(p.runtime));
  }

  get(name: string): PluginRuntime | undefined {
    const plugin = this.plugins.get(name);
    return plugin && snapshot(plugin.runtime);
  }

  findByService(service: string): PluginRuntime | undefined {
    for (const plugin of this.plugins.values()) {
      if (plugin.runtime.services.includes(service)) return snapshot(plugin.runtime);
    }
    return undefined;
  }

  onChange(listener: (plugin: PluginRuntime) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  descriptorsOf(name: string): Uint8Array[] {
    return [...(this.plugins.get(name)?.descriptors ?? [])];
  }

  // ---- lifecycle ----

  /**
   * Discovers every plugin directory and starts each plugin. Resolves once each one has been
   * verified ("ready"), refused ("failed") or crashed once ("backoff"). A bad manifest becomes a
   * "failed" plugin named after its directory, with the validation error as reason.
   */
  async start(): Promise<void> {
    const started: Promise<void>[] = [];
    for (const dir of this.discover()) {
      let manifest: PluginManifest;
      try {
        manifest = loadManifest(dir);
      } catch (err) {
        this.addFailed(basename(dir), (err as Error).message);
        continue;
      }
      const conflict = this.conflictOf(manifest.name, manifest.services);
      if (conflict) {
        this.logger.error({ plugin: manifest.name, dir }, conflict);
        if (!this.plugins.has(manifest.name)) this.addFailed(manifest.name, conflict);
        continue;
      }
      const plugin = this.addLocal(manifest, dir);
      started.push(this.launch(plugin));
    }
    await Promise.all(started);
    this.warnAboutMissingRequirements();
  }

  /** Stops every plugin (SIGTERM, then SIGKILL after the grace period) and reaps them. */
  async stop(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.plugins.values()].map((p) => this.halt(p, "host stopped")));
  }

  /** Resolves with the plugin once `predicate` holds for it; rejects after `timeoutMs`. */
  waitFor(name: string, predicate: (plugin: PluginRuntime) => boolean, timeoutMs = 30000): Promise<PluginRuntime> {
    return new Promise((resolvePromise, reject) => {
      const now = this.get(name);
      if (now && predicate(now)) return resolvePromise(now);
      const timer = setTimeout(() => {
        unsubscribe();
        const last = this.get(name);
        reject(new Error(`plugin ${name} did not reach the expected state within ${timeoutMs} ms (now ${last?.state ?? "unknown"}: ${last?.reason ?? ""})`));
      }, timeoutMs);
      const unsubscribe = this.onChange((plugin) => {
        if (plugin.name === name && predicate(plugin)) {
          clearTimeout(timer);
          unsubscribe();
          resolvePromise(plugin);
        }
      });
    });
  }

  /**
   * Adds a plugin that runs elsewhere, after verifying it the same way as a started one. Rejects
   * (and keeps nothing) when the name or a service is taken or verification fails. The returned
   * runtime carries the credential the remote plugin must use to verify identities.
   */
  async registerRemote(registration: RemotePluginRegistration): Promise<PluginRuntime> {
    if (!/^[a-z][a-z0-9-]{0,62}$/.test(registration.name)) {
      throw new PluginRefusal(`name "${registration.name}" must be lower-case letters, digits and dashes`);
    }
    if (registration.services.length === 0) throw new PluginRefusal("a remote plugin must provide at least one service");
    if (registration.address === "") throw new PluginRefusal("address is empty");
    const conflict = this.conflictOf(registration.name, registration.services);
    if (conflict) throw new PluginRefusal(conflict);
    const plugin = this.newPlugin({
      name: registration.name,
      version: registration.version,
      services: [...registration.services],
      publicMethods: [...(registration.publicMethods ?? [])],
      address: registration.address,
      remote: true,
      protocolVersion: Math.max(...this.offered),
    });
    try {
      await this.verify(plugin, Date.now() + (this.options.startTimeoutMs ?? 30000));
    } catch (err) {
      this.closeClient(plugin);
      throw err instanceof PluginRefusal ? err : new PluginRefusal(`cannot reach ${registration.address}: ${(err as Error).message}`);
    }
    this.plugins.set(plugin.runtime.name, plugin);
    this.setState(plugin, "ready", "");
    return snapshot(plugin.runtime);
  }

  /** Removes a remote plugin. */
  async deregisterRemote(name: string): Promise<void> {
    const plugin = this.plugins.get(name);
    if (!plugin) throw new Error(`no plugin named ${name}`);
    if (!plugin.runtime.remote) throw new Error(`plugin ${name} was started by the kernel, not registered remotely`);
    await this.halt(plugin, "deregistered");
    this.plugins.delete(name);
  }

  // ---- internals ----

  /** Plugin directories: each given dir that has a plugin.json, else its subdirectories that do. */
  private discover(): string[] {
    const dirs: string[] = [];
    for (const root of this.options.pluginDirs) {
      if (existsSync(join(root, MANIFEST_FILE))) {
        dirs.push(resolve(root));
        continue;
      }
      if (!existsSync(root)) {
        this.logger.warn({ dir: root }, "plugin directory does not exist");
        continue;
      }
      for (const entry of readdirSync(root).sort()) {
        const dir = resolve(root, entry);
        if (statSync(dir).isDirectory() && existsSync(join(dir, MANIFEST_FILE))) dirs.push(dir);
      }
    }
    return dirs;
  }

  private conflictOf(name: string, services: readonly string[]): string | undefined {
    if (this.plugins.has(name)) return `a plugin named ${name} already exists`;
    for (const service of services) {
      const owner = this.findByService(service);
      if (owner) return `${service} is already provided by plugin ${owner.name}`;
    }
    return undefined;
  }

  private newPlugin(fields: Pick<PluginRuntime, "name" | "version" | "services" | "publicMethods" | "address" | "remote" | "protocolVersion">): HostedPlugin {
    return {
      runtime: {
        ...fields,
        state: "starting",
        reason: "",
        pid: 0,
        restarts: 0,
        credential: randomBytes(32),
        stateChangedAt: Date.now(),
      },
      descriptors: [],
      crashTimes: [],
      stopping: false,
      stderrTail: [],
    };
  }

  private addFailed(name: string, reason: string): void {
    const plugin = this.newPlugin({ name, version: "", services: [], publicMethods: [], address: "", remote: false, protocolVersion: 0 });
    this.plugins.set(name, plugin);
    this.setState(plugin, "failed", reason);
  }

  private addLocal(manifest: PluginManifest, dir: string): HostedPlugin {
    const plugin = this.newPlugin({
      name: manifest.name,
      version: manifest.version,
      services: [...manifest.services],
      publicMethods: [...manifest.publicMethods],
      address: "",
      remote: false,
      protocolVersion: 0,
    });
    plugin.manifest = manifest;
    plugin.dir = dir;
    this.plugins.set(manifest.name, plugin);
    return plugin;
  }

  private setState(plugin: HostedPlugin, state: PluginStateName, reason: string): void {
    const runtime = plugin.runtime;
    if (runtime.state === state && runtime.reason === reason) return;
    runtime.state = state;
    runtime.reason = reason;
    runtime.stateChangedAt = Date.now();
    const log = state === "failed" ? this.logger.error : state === "backoff" ? this.logger.warn : this.logger.info;
    log.call(this.logger, { plugin: runtime.name, state, reason: reason || undefined, pid: runtime.pid || undefined }, `plugin ${state}`);
    const view = snapshot(runtime);
    for (const listener of [...this.listeners]) listener(view);
  }

  /** Checks that cannot improve by retrying; throws PluginRefusal. */
  private preflight(plugin: HostedPlugin): { file: string; args: string[] } {
    const manifest = plugin.manifest!;
    const dir = plugin.dir!;
    const common = manifest.protocolVersions.filter((v) => this.offered.includes(v));
    if (common.length === 0) {
      throw new PluginRefusal(
        `no common protocol version: plugin speaks [${manifest.protocolVersions.join(", ")}], kernel speaks [${this.offered.join(", ")}]`,
      );
    }
    const [command, ...args] = manifest.command;
    const file = command!.includes("/") ? resolve(dir, command!) : command!;
    if (isAbsolute(file) && !existsSync(file)) throw new PluginRefusal(`command ${file} does not exist`);
    if (manifest.sha256 !== undefined) {
      const target = manifest.sha256File !== undefined ? resolve(dir, manifest.sha256File) : file;
      if (!isAbsolute(target)) throw new PluginRefusal("sha256 is set but the command is looked up on PATH: set sha256File");
      let actual: string;
      try {
        actual = createHash("sha256").update(readFileSync(target)).digest("hex");
      } catch (err) {
        throw new PluginRefusal(`cannot read ${target} to check its sha256: ${(err as Error).message}`);
      }
      if (actual !== manifest.sha256.toLowerCase()) {
        throw new PluginRefusal(`sha256 mismatch for ${target}: file has ${actual}, manifest expects ${manifest.sha256.toLowerCase()}`);
      }
    }
    try {
      plugin.config = validatePluginConfig(manifest, this.options.configs?.[manifest.name]);
    } catch (err) {
      throw new PluginRefusal(`invalid config for plugin ${manifest.name}: ${(err as Error).message}`);
    }
    return { file, args };
  }

  private async listenAddress(plugin: HostedPlugin): Promise<string> {
    if (this.options.listen === "tcp") return `127.0.0.1:${await freePort()}`;
    plugin.socketDir ??= mkdtempSync(join(tmpdir(), "ol-plugin-")); // mkdtemp creates it 0700
    const socket = join(plugin.socketDir, "plugin.sock");
    rmSync(socket, { force: true }); // left by a crashed run
    return `unix:${socket}`;
  }

  private environment(plugin: HostedPlugin, listen: string): NodeJS.ProcessEnv {
    const manifest = plugin.manifest!;
    const dataDir = join(this.dataRoot, manifest.name);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    return {
      ...process.env,
      [MAGIC_COOKIE_KEY]: MAGIC_COOKIE_VALUE,
      [ENV.protocolVersions]: this.offered.join(","),
      [ENV.listen]: listen,
      [ENV.kernelAddress]: this.options.kernelAddress ?? "",
      [ENV.credential]: plugin.runtime.credential.toString("base64"),
      [ENV.name]: manifest.name,
      [ENV.config]: JSON.stringify(plugin.config ?? {}),
      [ENV.dataDir]: dataDir,
      [ENV.publicMethods]: manifest.publicMethods.join(","),
    };
  }

  /** Forwards a plugin's output: stderr JSON (pino) lines at their level, anything else as text. */
  private forward(plugin: HostedPlugin, line: string, stream: "stdout" | "stderr", handshake: (line: HandshakeLine) => void): void {
    const name = plugin.runtime.name;
    if (stream === "stdout") {
      const parsed = parseHandshake(line);
      if (parsed) return handshake(parsed);
      this.logger.warn({ plugin: name, stream, line }, "stray output on stdout (only the handshake line belongs there)");
      return;
    }
    plugin.stderrTail.push(line);
    if (plugin.stderrTail.length > STDERR_TAIL) plugin.stderrTail.shift();
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      entry = undefined;
    }
    if (entry !== null && typeof entry === "object" && !Array.isArray(entry)) {
      const { level, msg, ...fields } = entry as { level?: unknown; msg?: unknown };
      this.logger[logMethodOf(level)].call(this.logger, { ...fields, plugin: name }, typeof msg === "string" ? msg : undefined);
    } else {
      this.logger.info({ plugin: name, stream }, line);
    }
  }

  /** One start attempt; on any outcome the plugin ends up ready, failed, or backing off. */
  private launch(plugin: HostedPlugin): Promise<void> {
    plugin.launching = this.attempt(plugin).finally(() => (plugin.launching = undefined));
    return plugin.launching;
  }

  private async attempt(plugin: HostedPlugin): Promise<void> {
    if (this.closed || plugin.stopping) return;
    plugin.restartTimer = undefined;
    plugin.stderrTail = [];
    this.setState(plugin, "starting", plugin.runtime.restarts > 0 ? `restart ${plugin.runtime.restarts}` : "");
    let launchCommand: { file: string; args: string[] };
    try {
      launchCommand = this.preflight(plugin);
    } catch (err) {
      this.setState(plugin, "failed", (err as Error).message);
      return;
    }
    const startTimeout = this.options.startTimeoutMs ?? 30000;
    const deadline = Date.now() + startTimeout;
    const listen = await this.listenAddress(plugin);
    let announce!: (line: HandshakeLine) => void;
    const handshake = new Promise<HandshakeLine>((resolvePromise) => (announce = resolvePromise));
    let handshakeSeen = false;
    let managed: ManagedProcess;
    try {
      managed = await spawnManaged(launchCommand.file, launchCommand.args, {
        cwd: plugin.dir,
        env: this.environment(plugin, listen),
        stopGraceMs: this.options.stopGraceMs ?? 5000,
        onLine: (line, stream) =>
          this.forward(plugin, line, stream, (parsed) => {
            if (handshakeSeen) {
              this.logger.warn({ plugin: plugin.runtime.name, line }, "second handshake line ignored");
              return;
            }
            handshakeSeen = true;
            announce(parsed);
          }),
      });
    } catch (err) {
      this.crashed(plugin, `cannot start: ${(err as Error).message}`);
      return;
    }
    if (plugin.stopping || this.closed) {
      await managed.stop();
      return;
    }
    plugin.process = managed;
    plugin.runtime.pid = managed.pid;
    const exitedEarly = managed.exited.then((code) => ({ exit: code }));
    void managed.exited.then((code) => this.exited(plugin, managed, code));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), startTimeout)));
    try {
      const first = await Promise.race([handshake, exitedEarly, timedOut]);
      if (first === "timeout") throw new Error(`no handshake line on stdout within ${startTimeout} ms`);
      if ("exit" in first) return; // exited() handles it
      if (!this.offered.includes(first.protocol)) {
        throw new PluginRefusal(`handshake chose protocol ${first.protocol}, which the kernel did not offer ([${this.offered.join(", ")}])`);
      }
      plugin.runtime.protocolVersion = first.protocol;
      plugin.runtime.address = first.address;
      const outcome = await Promise.race([this.verify(plugin, deadline).then(() => "verified" as const), exitedEarly]);
      if (outcome !== "verified") return;
      if (plugin.process !== managed || plugin.stopping) return;
      this.setState(plugin, "ready", "");
    } catch (err) {
      if (plugin.process !== managed || plugin.stopping) return;
      const refused = err instanceof PluginRefusal;
      const reason = refused ? `refused: ${(err as Error).message}` : (err as Error).message;
      // Stop it first, so its exit is not taken for a crash; then record the outcome.
      plugin.stopping = true;
      this.closeClient(plugin);
      await managed.stop();
      plugin.stopping = false;
      if (refused) this.setState(plugin, "failed", reason);
      else this.crashed(plugin, reason);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Health Check + reflection against the plugin's address until `deadline` (the server may need
   * a moment after the handshake), then a health Watch to notice NOT_SERVING later.
   */
  private async verify(plugin: HostedPlugin, deadline: number): Promise<void> {
    this.closeClient(plugin);
    const client = new grpc.Client(plugin.runtime.address, grpc.credentials.createInsecure());
    plugin.client = client;
    for (;;) {
      try {
        const verification = await verifyPlugin(client, plugin.runtime.services, deadline);
        plugin.descriptors = verification.descriptors;
        break;
      } catch (err) {
        if (err instanceof PluginRefusal || Date.now() >= deadline) throw err;
        if ((err as grpc.ServiceError).code !== grpc.status.UNAVAILABLE) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    plugin.healthWatch = watchHealth(
      client,
      "",
      (status) => this.healthChanged(plugin, status),
      (reason) => this.healthLost(plugin, client, reason),
    );
  }

  private healthChanged(plugin: HostedPlugin, status: ServingStatus): void {
    if (plugin.stopping) return;
    const state = plugin.runtime.state;
    if (status === ServingStatus.SERVING && state === "starting" && plugin.runtime.reason.startsWith("health:")) {
      this.setState(plugin, "ready", "");
    } else if (status !== ServingStatus.SERVING && state === "ready") {
      this.setState(plugin, "starting", `health: plugin reports ${ServingStatus[status] ?? status}; waiting for SERVING`);
    }
  }

  /** The Watch stream broke. A local plugin's exit is handled by exited(); a remote one is re-verified. */
  private healthLost(plugin: HostedPlugin, client: grpc.Client, reason: string): void {
    if (plugin.stopping || this.closed || plugin.client !== client || !plugin.runtime.remote) return;
    this.closeClient(plugin);
    this.crashed(plugin, `lost contact: ${reason}`);
  }

  private closeClient(plugin: HostedPlugin): void {
    plugin.healthWatch?.cancel();
    plugin.healthWatch = undefined;
    plugin.client?.close();
    plugin.client = undefined;
  }

  private exited(plugin: HostedPlugin, managed: ManagedProcess, code: number | string): void {
    if (plugin.process !== managed) return;
    plugin.process = undefined;
    plugin.runtime.pid = 0;
    this.closeClient(plugin);
    if (plugin.stopping || this.closed) return;
    const tail = plugin.stderrTail.length > 0 ? `; last stderr: ${plugin.stderrTail.slice(-3).join(" | ")}` : "";
    this.crashed(plugin, `exited unexpectedly (${typeof code === "number" ? `code ${code}` : code})${tail}`);
  }

  /** Records a crash: restart after a backoff, or "failed" once it is a crash loop. */
  private crashed(plugin: HostedPlugin, reason: string): void {
    const now = Date.now();
    const window = this.options.crashWindowMs ?? 60000;
    const maxCrashes = this.options.maxCrashes ?? 5;
    plugin.crashTimes = [...plugin.crashTimes.filter((t) => now - t < window), now];
    const recent = plugin.crashTimes.length;
    if (recent > maxCrashes && !plugin.runtime.remote) {
      this.setState(plugin, "failed", `crash loop: ${recent} crashes within ${window} ms; last: ${reason}`);
      return;
    }
    const initial = this.options.initialBackoffMs ?? 500;
    const delay = Math.min(initial * 2 ** (recent - 1), this.options.maxBackoffMs ?? 30000);
    this.setState(plugin, "backoff", `${reason}; retrying in ${delay} ms`);
    plugin.restartTimer = setTimeout(() => {
      plugin.runtime.restarts++;
      void (plugin.runtime.remote ? this.reverifyRemote(plugin) : this.launch(plugin));
    }, delay);
  }

  private async reverifyRemote(plugin: HostedPlugin): Promise<void> {
    if (this.closed || plugin.stopping) return;
    this.setState(plugin, "starting", "re-verifying after lost contact");
    try {
      await this.verify(plugin, Date.now() + (this.options.startTimeoutMs ?? 30000));
      if (!plugin.stopping) this.setState(plugin, "ready", "");
    } catch (err) {
      if (plugin.stopping) return;
      this.closeClient(plugin);
      this.crashed(plugin, (err as Error).message);
    }
  }

  /** Stops supervision and the process (if any); state "stopped" unless it had failed. */
  private async halt(plugin: HostedPlugin, reason: string): Promise<void> {
    plugin.stopping = true;
    clearTimeout(plugin.restartTimer);
    this.closeClient(plugin);
    await plugin.process?.stop();
    await plugin.launching;
    plugin.process = undefined;
    plugin.runtime.pid = 0;
    if (plugin.socketDir) rmSync(plugin.socketDir, { recursive: true, force: true });
    plugin.socketDir = undefined;
    if (plugin.runtime.state !== "failed") this.setState(plugin, "stopped", reason);
  }

  private warnAboutMissingRequirements(): void {
    for (const plugin of this.plugins.values()) {
      for (const service of plugin.manifest?.requires ?? []) {
        if (!this.findByService(service)) {
          this.logger.warn({ plugin: plugin.runtime.name, service }, "required service is provided by no plugin (yet)");
        }
      }
    }
  }
}

/** The host logger method for a pino level (number, or name when a plugin logs names). */
function logMethodOf(level: unknown): keyof HostLogger {
  const names = ["trace", "debug", "info", "warn", "error", "fatal"];
  const number = typeof level === "number" ? level : typeof level === "string" ? (names.indexOf(level) + 1) * 10 : 30;
  return PINO_LEVELS[Math.min(60, Math.max(10, Math.round(number / 10) * 10))] ?? "info";
}

/** A copy for listeners and callers, so they never see (or cause) later mutation. */
function snapshot(runtime: PluginRuntime): PluginRuntime {
  return { ...runtime, services: [...runtime.services], publicMethods: [...runtime.publicMethods] };
}
