// The kernel composition: config → telemetry and auth → embedded services (Temporal dev server,
// anvil + platform contracts) unless external ones are configured → plugin host → gateway with the
// kernel's own services (on a private Unix socket) → the Go data plane on the public gRPC port →
// HTTP/JSON → metrics. `stop()` takes it down in reverse order.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  ANVIL_DEV_PRIVATE_KEY,
  authV1,
  connectChain,
  deployPlatform,
  freePort,
  kernelV1,
  startAnvil,
  startTemporalDevServer,
  type AnvilChain,
  type TemporalDevServer,
} from "@openledger/sdk";
import { privateKeyToAccount } from "viem/accounts";
import type { Hex } from "viem";
import { CredentialStore, KernelAuth, createAuthService, publicMethodsOf } from "./auth";
import type { OpenLedgerConfig } from "./config";
import { DataPlane, Gateway } from "./gateway";
import { MANIFEST_FILE, PluginHost } from "./host";
import { HttpGateway } from "./http";
import { createKernelService, createPluginRegistryService } from "./registry";
import { Telemetry } from "./telemetry";

export const KERNEL_VERSION = "0.1.0";

/**
 * Environment the kernel sets for its plugins (they inherit the kernel's environment), so a plugin
 * finds the shared services without configuration of its own.
 */
export const PLUGIN_SERVICE_ENV = {
  temporalAddress: "OL_TEMPORAL_ADDRESS",
  temporalNamespace: "OL_TEMPORAL_NAMESPACE",
  chainRpcUrl: "OL_CHAIN_RPC_URL",
  chainId: "OL_CHAIN_ID",
  /** Where the platform contracts' address book (<chainId>.json) is. */
  chainAddressBookDir: "OL_CHAIN_ADDRESS_BOOK_DIR",
  /** JSON options for the SDK's createObjectStore / createVectorStore / createDatabase. */
  objects: "OL_SERVICE_OBJECTS",
  vectors: "OL_SERVICE_VECTORS",
  /** {"kind":"postgres","url":...} shared by all plugins, or {"kind":"pglite"}: each plugin keeps
   *  its own PGlite database in its data dir (PGlite is single-process). */
  database: "OL_SERVICE_DATABASE",
} as const;

/** The SDK adapter options plugins receive (PLUGIN_SERVICE_ENV.objects/vectors/database). */
export function adapterOptions(config: OpenLedgerConfig): { objects: object; vectors: object; database: object } {
  const { objects, vectors, database, dataDir } = config;
  return {
    objects: objects.kind === "s3" ? { kind: "s3", ...objects.s3 } : { kind: "fs", dir: objects.dir || path.join(dataDir, "objects") },
    vectors:
      vectors.kind === "qdrant"
        ? { kind: "qdrant", url: vectors.qdrantUrl, ...(vectors.qdrantApiKey ? { apiKey: vectors.qdrantApiKey } : {}) }
        : { kind: "embedded", dir: vectors.dir || path.join(dataDir, "vectors") },
    database: database.kind === "postgres" ? { kind: "postgres", url: database.url } : { kind: "pglite" },
  };
}

export interface KernelAddresses {
  grpc: string;
  http: string;
  /** "" when metrics are disabled. */
  metrics: string;
  temporal: string;
  /** http://host:port of the Temporal Web UI; "" when Temporal is external. */
  temporalUi: string;
  chainRpcUrl: string;
  chainId: number;
}

/** A process the kernel started for a shared service (reported by `ol status`). */
export interface EmbeddedService {
  /** "temporal" or "anvil". */
  name: string;
  address: string;
  pid: number;
}

/**
 * The plugin directories to host: each configured directory that has a plugin.json, and each
 * subdirectory with one of the others, minus the excluded names. Missing directories are skipped.
 */
export function pluginDirectories(dirs: readonly string[], exclude: readonly string[]): string[] {
  const found: string[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    const candidates = existsSync(path.join(dir, MANIFEST_FILE))
      ? [dir]
      : readdirSync(dir, { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => path.join(dir, entry.name))
          .sort();
    for (const candidate of candidates) {
      if (existsSync(path.join(candidate, MANIFEST_FILE)) && !exclude.includes(path.basename(candidate))) found.push(candidate);
    }
  }
  return found;
}

/** Rethrows a listen failure naming what could not listen where (the port is in the config). */
function cannotListen(what: string, address: string): (err: unknown) => never {
  return (err) => {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`${what} cannot listen on ${address}: ${/EADDRINUSE/.test(reason) ? "the port is in use" : reason}`);
  };
}

/** Stops what was started so far, newest first; used both on a failed start and on stop(). */
class Teardown {
  private readonly steps: { name: string; run: () => Promise<void> }[] = [];
  add(name: string, run: () => Promise<void>): void {
    this.steps.push({ name, run });
  }
  async run(onError: (name: string, err: unknown) => void): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      await step.run().catch((err: unknown) => onError(step.name, err));
    }
  }
}

export class Kernel {
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly config: OpenLedgerConfig,
    readonly addresses: KernelAddresses,
    readonly telemetry: Telemetry,
    readonly host: PluginHost,
    readonly embedded: EmbeddedService[],
    /** The bootstrap admin API key; `created` = made by this start (print it once). */
    readonly adminKey: { apiKey: string; created: boolean },
    private readonly teardown: Teardown,
  ) {}

  static async start(config: OpenLedgerConfig): Promise<Kernel> {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const telemetry = new Telemetry(config.telemetry);
    const log = telemetry.logger;
    const teardown = new Teardown();
    teardown.add("telemetry", () => telemetry.shutdown());
    try {
      const store = new CredentialStore(path.join(config.dataDir, "auth"));
      const adminAddress = config.auth.admins[0] ?? privateKeyToAccount(`0x${randomBytes(32).toString("hex")}`).address.toLowerCase();
      const adminKey = store.bootstrapAdminKey(adminAddress);

      const embedded: EmbeddedService[] = [];
      // Side by side; settled both, so a failure of one still leaves the other on the teardown list.
      const [temporalStart, chainStart] = await Promise.allSettled([
        Kernel.temporal(config, log, teardown, embedded),
        Kernel.chain(config, log, teardown, embedded),
      ]);
      if (temporalStart.status === "rejected") throw temporalStart.reason;
      if (chainStart.status === "rejected") throw chainStart.reason;
      const [temporal, chain] = [temporalStart.value, chainStart.value];
      embedded.sort((a, b) => a.name.localeCompare(b.name));
      // Plugins inherit the kernel's environment.
      process.env[PLUGIN_SERVICE_ENV.temporalAddress] = temporal.address;
      process.env[PLUGIN_SERVICE_ENV.temporalNamespace] = config.temporal.namespace;
      process.env[PLUGIN_SERVICE_ENV.chainRpcUrl] = chain.rpcUrl;
      process.env[PLUGIN_SERVICE_ENV.chainId] = String(chain.chainId);
      if (chain.addressBookDir) process.env[PLUGIN_SERVICE_ENV.chainAddressBookDir] = chain.addressBookDir;
      const adapters = adapterOptions(config);
      process.env[PLUGIN_SERVICE_ENV.objects] = JSON.stringify(adapters.objects);
      process.env[PLUGIN_SERVICE_ENV.vectors] = JSON.stringify(adapters.vectors);
      process.env[PLUGIN_SERVICE_ENV.database] = JSON.stringify(adapters.database);

      // Plugins are told the gateway's address before it listens, so a port 0 is settled first.
      const grpcAddress = `${config.gateway.host}:${config.gateway.port || (await freePort())}`;
      const host = new PluginHost({
        kernelAddress: grpcAddress,
        pluginDirs: pluginDirectories(config.plugins.dirs, config.plugins.exclude),
        configs: config.plugins.config,
        dataDir: path.join(config.dataDir, "plugins"),
        startTimeoutMs: config.plugins.startTimeoutMs,
        stopGraceMs: config.plugins.stopGraceMs,
        logger: log,
      });
      const auth = new KernelAuth({
        store,
        admins: config.auth.admins,
        isPublic: publicMethodsOf(host),
        siwe: { domain: config.auth.siweDomain, uri: config.auth.siweUri, chainId: config.auth.siweChainId || chain.chainId },
        sessionTtlMs: config.auth.sessionTtlSeconds * 1000,
        nonceTtlMs: config.auth.nonceTtlSeconds * 1000,
      });
      const kernelCredential = randomBytes(32);
      const addresses: KernelAddresses = {
        grpc: "",
        http: "",
        metrics: "",
        temporal: temporal.address,
        temporalUi: temporal.uiAddress,
        chainRpcUrl: chain.rpcUrl,
        chainId: chain.chainId,
      };
      const gateway = new Gateway({
        directory: host,
        authenticate: auth.authenticate,
        kernelCredential,
        localServices: [
          { definition: authV1.AuthServiceService, implementation: createAuthService(auth, kernelCredential) },
          { definition: kernelV1.PluginRegistryServiceService, implementation: createPluginRegistryService(host, kernelCredential, { isAdmin: (address) => auth.isAdmin(address) }) },
          {
            definition: kernelV1.KernelServiceService,
            implementation: createKernelService(() => ({
              version: KERNEL_VERSION,
              grpcAddress: addresses.grpc,
              httpAddress: addresses.http,
              metricsAddress: addresses.metrics,
              temporalAddress: addresses.temporal,
              temporalUiAddress: addresses.temporalUi,
              chainRpcUrl: addresses.chainRpcUrl,
            })),
          },
        ],
        maxReceiveMessageBytes: config.gateway.maxMessageBytes,
        maxSendMessageBytes: config.gateway.maxMessageBytes,
        keepalive: { timeMs: config.gateway.keepaliveTimeMs, timeoutMs: config.gateway.keepaliveTimeoutMs },
        interceptors: [telemetry.grpcInterceptor()],
        logger: { warn: (message) => log.warn(message) },
      });
      // The grpc-js gateway listens privately; the data plane owns the public port and hands it
      // what it does not relay itself (the kernel's services, health, reflection).
      const socketDir = mkdtempSync(path.join(tmpdir(), "ol-kernel-"));
      teardown.add("gateway socket", async () => rmSync(socketDir, { recursive: true, force: true }));
      await gateway.listen(`unix:${path.join(socketDir, "gateway.sock")}`);
      teardown.add("gateway", () => gateway.close(config.plugins.stopGraceMs));
      const dataPlane = await DataPlane.start({
        gateway,
        directory: host,
        authenticate: auth.authenticate,
        listen: grpcAddress,
        maxReceiveMessageBytes: config.gateway.maxMessageBytes,
        maxSendMessageBytes: config.gateway.maxMessageBytes,
        keepalive: { timeMs: config.gateway.keepaliveTimeMs, timeoutMs: config.gateway.keepaliveTimeoutMs },
        onCalls: (calls) => telemetry.recordRelayedCalls(calls),
        stopGraceMs: config.plugins.stopGraceMs,
        logger: { warn: (message) => log.warn({ component: "ol-gateway" }, message), error: (message) => log.error({ component: "ol-gateway" }, message) },
      }).catch(cannotListen("the gateway", grpcAddress));
      teardown.add("data plane", () => dataPlane.close());
      const forgetRevoked = store.onRevoke(() => dataPlane.invalidateCredentials());
      teardown.add("revocation listener", async () => forgetRevoked());
      addresses.grpc = dataPlane.address;

      teardown.add("plugins", () => host.stop());
      await host.start();
      telemetry.watchPlugins(host);

      const http = new HttpGateway({
        catalog: gateway,
        invoker: gateway.invoker(),
        telemetry,
        corsOrigins: config.http.corsOrigins,
        maxBodyBytes: config.http.maxBodyBytes,
      });
      addresses.http = await http.listen(config.http.host, config.http.port).catch(cannotListen("HTTP/JSON", `${config.http.host}:${config.http.port}`));
      teardown.add("http", () => http.close());
      if (config.metrics.enabled) {
        const { host: metricsHost, port: metricsPort } = config.metrics;
        addresses.metrics = await telemetry.serveMetrics(metricsHost, metricsPort).catch(cannotListen("metrics", `${metricsHost}:${metricsPort}`));
      }

      log.info({ addresses, plugins: host.list().map((p) => ({ name: p.name, state: p.state, reason: p.reason })) }, "kernel ready");
      return new Kernel(config, addresses, telemetry, host, embedded, adminKey, teardown);
    } catch (err) {
      log.error({ err }, "kernel start failed; stopping what was started");
      await teardown.run((name, stopErr) => process.stderr.write(`ol: stopping ${name} failed: ${String(stopErr)}\n`));
      throw err;
    }
  }

  private static async temporal(
    config: OpenLedgerConfig,
    log: Telemetry["logger"],
    teardown: Teardown,
    embedded: EmbeddedService[],
  ): Promise<{ address: string; uiAddress: string }> {
    if (config.temporal.address) return { address: config.temporal.address, uiAddress: "" };
    const server: TemporalDevServer = await startTemporalDevServer({
      dbFile: path.join(config.dataDir, "temporal.db"),
      namespace: config.temporal.namespace,
      port: config.temporal.port || undefined,
      uiPort: config.temporal.uiPort || undefined,
      onLine: (line: string) => log.debug({ component: "temporal" }, line),
    });
    teardown.add("temporal", () => server.stop());
    embedded.push({ name: "temporal", address: server.address, pid: server.pid });
    return { address: server.address, uiAddress: server.uiAddress };
  }

  private static async chain(
    config: OpenLedgerConfig,
    log: Telemetry["logger"],
    teardown: Teardown,
    embedded: EmbeddedService[],
  ): Promise<{ rpcUrl: string; chainId: number; addressBookDir?: string }> {
    if (config.chain.rpcUrl) return { rpcUrl: config.chain.rpcUrl, chainId: config.chain.chainId };
    const chainDir = path.join(config.dataDir, "chain");
    mkdirSync(chainDir, { recursive: true });
    const anvil: AnvilChain = await startAnvil({
      stateFile: path.join(chainDir, "anvil-state.json"),
      port: config.chain.port || undefined,
      chainId: config.chain.chainId,
      onLine: (line: string) => log.debug({ component: "anvil" }, line),
    });
    teardown.add("anvil", () => anvil.stop());
    embedded.push({ name: "anvil", address: anvil.rpcUrl, pid: anvil.process.pid });
    // Idempotent: the first boot deploys the platform contracts, later boots find them in the book.
    const clients = await connectChain({ rpcUrl: anvil.rpcUrl, privateKey: (config.chain.privateKey || ANVIL_DEV_PRIVATE_KEY) as Hex });
    const deployed = await deployPlatform(clients, { addressBookDir: chainDir });
    log.info({ addressBook: deployed.addressBookPath, transactions: deployed.transactionsSent }, "platform contracts ready");
    return { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId, addressBookDir: chainDir };
  }

  /** Stops everything the kernel started, newest first; safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= this.teardown.run((name, err) => this.telemetry.logger.error({ err }, `stopping ${name} failed`));
    return this.stopping;
  }
}
