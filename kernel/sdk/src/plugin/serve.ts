// servePlugin: everything a TypeScript plugin needs to speak the kernel's plugin protocol
// (docs/plugin-protocol.md) in a few lines. The plugin only supplies its gRPC services.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import pino, { type Logger } from "pino";
import { IdentityVerifier, IDENTITY_HEADERS, type Identity } from "../identity";
import { ENV, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, PROTOCOL_VERSIONS, formatHandshake } from "../protocol";
import { HealthServiceDefinition, HealthStatusBoard, ServingStatus } from "./health";

/** One gRPC service of the plugin: a grpc-js definition (e.g. ts-proto's FooServiceService) and its handlers. */
export interface PluginService {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

/** What a plugin knows when it builds its services: the handshake environment and its logger. */
export interface PluginContext extends HandshakeEnvironment {
  logger: Logger;
}

export interface ServePluginOptions {
  /** The services, or a function that builds them from the plugin's config, data dir and logger. */
  services: PluginService[] | ((context: PluginContext) => PluginService[] | Promise<PluginService[]>);
  /**
   * Method paths ("/pkg.Service/Method") callable without a verified identity. Default: the
   * manifest's publicMethods, which the kernel passes in OL_PLUGIN_PUBLIC_METHODS.
   */
  publicMethods?: readonly string[];
  /** Serialized FileDescriptorSet covering the services, for reflection. Default: every proto of the repo. */
  descriptorSet?: Uint8Array;
  /** Plugin protocol versions this plugin speaks. Default: the SDK's PROTOCOL_VERSIONS. */
  protocolVersions?: readonly number[];
  /** Runs on shutdown after in-flight calls drained (close databases, flush). */
  onShutdown?: () => Promise<void> | void;
  /** How long in-flight calls may take to finish on shutdown before they are cancelled. Default 10 s. */
  drainTimeoutMs?: number;
  /** Environment to read the handshake from. Default: process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface RunningPlugin {
  name: string;
  /** Where the server listens, as announced in the handshake line. */
  address: string;
  protocolVersion: number;
  /** The plugin's config section (already validated by the kernel against the manifest's configSchema). */
  config: unknown;
  dataDir: string;
  /** The kernel's gRPC address, to call other services through the gateway. */
  kernelAddress: string;
  /** The shared secret: verifies identities, authenticates calls back to the kernel. */
  credential: Buffer;
  /** JSON logs on stderr, which the kernel forwards tagged with the plugin's name. */
  logger: Logger;
  /** Serving status: set a service NOT_SERVING to take it out of routing temporarily. */
  health: HealthStatusBoard;
  /** Drains and stops the server (what SIGTERM does, without exiting the process). */
  shutdown(): Promise<void>;
}

/** Raised for a broken handshake environment; servePlugin prints it and exits 1. */
export class PluginEnvironmentError extends Error {}

export interface HandshakeEnvironment {
  name: string;
  protocolVersion: number;
  listen: string;
  kernelAddress: string;
  credential: Buffer;
  config: unknown;
  dataDir: string;
  publicMethods: string[];
}

/** Reads and checks the environment the kernel started the plugin with. */
export function readHandshakeEnvironment(
  env: NodeJS.ProcessEnv,
  supported: readonly number[] = PROTOCOL_VERSIONS,
): HandshakeEnvironment {
  if (env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE_VALUE) {
    throw new PluginEnvironmentError(
      "This program is an OpenLedger plugin: the kernel starts it (see docs/plugin-protocol.md). " +
        "Put its directory in the kernel's plugin directories instead of running it by hand.",
    );
  }
  const offered = (env[ENV.protocolVersions] ?? "")
    .split(",")
    .map((v) => Number(v.trim()))
    .filter((v) => Number.isInteger(v) && v > 0);
  const common = offered.filter((v) => supported.includes(v));
  if (common.length === 0) {
    throw new PluginEnvironmentError(
      `no common plugin protocol version: kernel offers [${offered.join(",")}], plugin speaks [${supported.join(",")}]`,
    );
  }
  const listen = env[ENV.listen] ?? "";
  if (listen === "") throw new PluginEnvironmentError(`${ENV.listen} is not set`);
  const credential = Buffer.from(env[ENV.credential] ?? "", "base64");
  if (credential.length < 16) throw new PluginEnvironmentError(`${ENV.credential} must be at least 16 base64 bytes`);
  let config: unknown;
  try {
    config = JSON.parse(env[ENV.config] || "{}");
  } catch (err) {
    throw new PluginEnvironmentError(`${ENV.config} is not JSON: ${(err as Error).message}`);
  }
  return {
    name: env[ENV.name] || "plugin",
    protocolVersion: Math.max(...common),
    listen,
    kernelAddress: env[ENV.kernelAddress] ?? "",
    credential,
    config,
    dataDir: env[ENV.dataDir] ?? "",
    publicMethods: (env[ENV.publicMethods] ?? "").split(",").filter((m) => m !== ""),
  };
}

const identities = new WeakMap<object, Identity>();

/**
 * The identity the kernel vouched for on this call (verified before the handler ran). For a public
 * method called without identity headers it is the anonymous identity (address "").
 */
export function callerOf(call: object): Identity {
  const identity = identities.get(call);
  if (!identity) throw new Error("callerOf: this call was not received through servePlugin");
  return identity;
}

function unauthenticated(path: string, metadata: grpc.Metadata, verifier: IdentityVerifier, isPublic: boolean): grpc.ServiceError | Identity {
  const header = (name: string) => {
    const value = metadata.get(name)[0];
    return value === undefined ? undefined : String(value);
  };
  const identity = verifier.verify(header, path);
  if (identity) return identity;
  const unsigned = header(IDENTITY_HEADERS.signature) === undefined;
  // A public method accepts a call without identity, but never one with a forged identity.
  if (isPublic && unsigned) return { address: "", authMethod: "none" };
  const reason = unsigned
    ? `${path} requires an identity signed by the kernel; call it through the kernel`
    : `${path}: identity headers are not signed with this plugin's credential, or are stale`;
  return Object.assign(new Error(reason), { code: grpc.status.UNAUTHENTICATED, details: reason, metadata: new grpc.Metadata() });
}

type AnyHandler = (call: NodeJS.EventEmitter & { metadata: grpc.Metadata }, callback?: grpc.sendUnaryData<unknown>) => void;

/** Wraps every handler of a service so it runs only after the caller's identity verified. */
function guardService(service: PluginService, verifier: IdentityVerifier, publicMethods: ReadonlySet<string>): grpc.UntypedServiceImplementation {
  const guarded: grpc.UntypedServiceImplementation = {};
  for (const [key, method] of Object.entries(service.definition)) {
    const handler = service.implementation[key] as unknown as AnyHandler | undefined;
    if (!handler) throw new Error(`servePlugin: no implementation for ${method.path}`);
    const wrapped: AnyHandler = (call, callback) => {
      const result = unauthenticated(method.path, call.metadata, verifier, publicMethods.has(method.path));
      if (result instanceof Error) {
        if (callback) callback(result as grpc.ServiceError);
        else call.emit("error", result);
        return;
      }
      identities.set(call, result);
      handler(call, callback);
    };
    guarded[key] = wrapped as unknown as grpc.UntypedHandleCall;
  }
  return guarded;
}

/** The FileDescriptorSet of every proto in the repo, produced by `node scripts/gen-proto.js`. */
function defaultDescriptorSet(): Buffer {
  // From src/plugin (tests) the file is in ../gen; from dist/plugin tsc did not copy it, so ../../src/gen.
  for (const candidate of [join(__dirname, "../gen/descriptors.binpb"), join(__dirname, "../../src/gen/descriptors.binpb")]) {
    if (existsSync(candidate)) return readFileSync(candidate);
  }
  throw new Error("descriptors.binpb not found: run `node scripts/gen-proto.js`");
}

function bind(server: grpc.Server, listen: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) reject(err);
      else resolve(listen.startsWith("unix:") ? listen : listen.replace(/:\d+$/, `:${port}`));
    });
  });
}

/** Serves the plugin's services as the kernel asks. When run by hand it prints why it cannot and exits 1. */
export async function servePlugin(options: ServePluginOptions): Promise<RunningPlugin> {
  let handshake: HandshakeEnvironment;
  try {
    handshake = readHandshakeEnvironment(options.env ?? process.env, options.protocolVersions);
  } catch (err) {
    if (!(err instanceof PluginEnvironmentError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  const logger = pino({ name: handshake.name }, pino.destination({ dest: 2, sync: true }));
  const publicMethods = new Set(options.publicMethods ?? handshake.publicMethods);
  const services = typeof options.services === "function" ? await options.services({ ...handshake, logger }) : options.services;
  const server = new grpc.Server();
  const health = new HealthStatusBoard();
  const serviceNames: string[] = [];
  const verifier = new IdentityVerifier(handshake.credential);
  for (const service of services) {
    server.addService(service.definition, guardService(service, verifier, publicMethods));
    const first = Object.values(service.definition)[0];
    if (first) serviceNames.push(first.path.split("/")[1]!);
  }
  server.addService(HealthServiceDefinition, health.implementation());
  const descriptorSet = Buffer.from(options.descriptorSet ?? defaultDescriptorSet());
  const packageDefinition = protoLoader.loadFileDescriptorSetFromBuffer(descriptorSet);
  // proto-loader re-derives each file's descriptor through protobufjs, which loses map entries and
  // qualified field type names; reflection serves the files exactly as generated instead.
  const generatedFiles = fromBinary(FileDescriptorSetSchema, descriptorSet).file.map((file) => Buffer.from(toBinary(FileDescriptorProtoSchema, file)));
  for (const definition of Object.values(packageDefinition)) {
    if ("fileDescriptorProtos" in definition) definition.fileDescriptorProtos = generatedFiles;
  }
  new ReflectionService(packageDefinition, { services: serviceNames }).addToServer(server);

  const address = await bind(server, handshake.listen);
  health.set("", ServingStatus.SERVING);
  for (const name of serviceNames) health.set(name, ServingStatus.SERVING);

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      logger.info("shutting down: draining in-flight calls");
      health.setAll(ServingStatus.NOT_SERVING);
      health.endWatches();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, options.drainTimeoutMs ?? 10000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await options.onShutdown?.();
      clearInterval(parentWatch);
    })();
    return stopping;
  };
  const exitAfterShutdown = (why: string) => {
    logger.info(why);
    void shutdown().then(() => process.exit(0));
  };
  process.once("SIGTERM", () => exitAfterShutdown("SIGTERM received"));
  process.once("SIGINT", () => exitAfterShutdown("SIGINT received"));
  // The kernel asks Linux to kill us when it dies (pdeathsig); this also covers plugins started
  // through a wrapper: once reparented, the kernel is gone.
  const parent = process.ppid;
  const parentWatch = setInterval(() => {
    if (process.ppid !== parent) exitAfterShutdown("kernel is gone");
  }, 1000);
  parentWatch.unref();

  process.stdout.write(`${formatHandshake({ olplugin: 1, protocol: handshake.protocolVersion, address })}\n`);
  logger.info({ address, services: serviceNames, protocol: handshake.protocolVersion }, "serving");
  return {
    name: handshake.name,
    address,
    protocolVersion: handshake.protocolVersion,
    config: handshake.config,
    dataDir: handshake.dataDir,
    kernelAddress: handshake.kernelAddress,
    credential: handshake.credential,
    logger,
    health,
    shutdown,
  };
}
