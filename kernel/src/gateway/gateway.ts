// The kernel's one public gRPC endpoint. Plugin methods pass through as raw bytes (the gateway
// never needs a plugin's generated code): each call is authenticated, its metadata cleaned and the
// caller's identity signed for the target plugin; deadline, cancellation, headers, trailers and
// status cross in both directions. Routes follow the plugin directory as plugins come and go.
import { randomBytes } from "node:crypto";
import type { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  Client,
  Metadata,
  Server,
  ServerCredentials,
  credentials,
  status as Status,
  type ChannelOptions,
  type Deadline,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServiceDefinition,
  type ServiceError,
  type ServerInterceptor,
  type StatusObject,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from "@grpc/grpc-js";
import {
  HEALTH_SERVICE,
  HealthServiceDefinition,
  HealthStatusBoard,
  RESERVED_HEADER_PREFIX,
  ServingStatus,
  signIdentity,
  type Identity,
} from "@openledger/sdk";
import type { Authenticator, Invoker, MethodCatalog, MethodDescription, PluginDirectory, PluginRuntime } from "../types";
import { DescriptorCatalog, filesOfSet, type DescriptorSource } from "./catalog";
import { healthFileDescriptor } from "./health";
import { LoopbackInvoker } from "./invoker";
import { DEFAULT_CREDENTIAL_HEADERS, requestMetadataForUpstream, responseMetadataForClient } from "./metadata";
import { REFLECTION_SERVICES, loadReflectionVersions, reflectionHandler } from "./reflection";

/** Owner name of the services the kernel serves itself. */
export const KERNEL_OWNER = "kernel";

export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface KeepaliveOptions {
  /** Ping a client connection after this long without activity (grpc.keepalive_time_ms). Default 2 h. */
  timeMs?: number;
  /** Close the connection when a ping is not answered within this (grpc.keepalive_timeout_ms). Default 20 s. */
  timeoutMs?: number;
  /** Smallest interval between client pings the gateway tolerates before it closes the connection
   *  (grpc.http2.min_ping_interval_without_data_ms). Default 5 min, as in grpc-js. */
  minClientPingIntervalMs?: number;
  /** Close a connection idle for this long (grpc.max_connection_idle_ms). Default: never. */
  maxConnectionIdleMs?: number;
  /** Gracefully close a connection this old, so clients rebalance (grpc.max_connection_age_ms). Default: never. */
  maxConnectionAgeMs?: number;
}

/** A service the kernel implements in-process (openledger.kernel.v1.*), served on the gateway's port. */
export interface LocalService {
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

/** Where the gateway reports what it cannot act on (a plugin's undecodable descriptors). pino fits. */
export interface GatewayLogger {
  warn(message: string): void;
}

export interface GatewayOptions {
  directory: PluginDirectory;
  authenticate: Authenticator;
  /** Kernel services served beside the plugins'. Their calls are authenticated too, and carry
   *  identity headers signed with `kernelCredential`. */
  localServices?: LocalService[];
  /** Serialized FileDescriptorSet describing `localServices` (default: readKernelDescriptors()). */
  localDescriptors?: Uint8Array;
  /** Secret the kernel signs identity headers for its own services with. Default: random. */
  kernelCredential?: Buffer;
  /** Largest message the gateway accepts from a client. Default 16 MiB; beyond it RESOURCE_EXHAUSTED. */
  maxReceiveMessageBytes?: number;
  /** Largest message the gateway sends to a client. Default 16 MiB; beyond it RESOURCE_EXHAUSTED. */
  maxSendMessageBytes?: number;
  keepalive?: KeepaliveOptions;
  /** Request headers holding the caller's credential, never forwarded to plugins.
   *  Default: authorization, cookie, x-api-key. */
  credentialHeaders?: string[];
  logger?: GatewayLogger;
  /** grpc-js server interceptors run on every call (the kernel's telemetry: spans and metrics). */
  interceptors?: ServerInterceptor[];
}

/** The FileDescriptorSet generated from proto/ (kernel/sdk/src/gen/descriptors.binpb, made by `npm run gen`). */
export function readKernelDescriptors(): Uint8Array {
  // Same relative path from kernel/src/gateway (tests) and kernel/dist/gateway (built).
  return readFileSync(path.resolve(__dirname, "../../sdk/src/gen/descriptors.binpb"));
}

type MethodType = "unary" | "serverStream" | "clientStream" | "bidi";

function methodType(method: { clientStreaming: boolean; serverStreaming: boolean }): MethodType {
  if (method.clientStreaming) return method.serverStreaming ? "bidi" : "clientStream";
  return method.serverStreaming ? "serverStream" : "unary";
}

const passBytes = (value: Buffer): Buffer => value;

/** What every kind of server call has. */
type ServerCall = EventEmitter &
  Pick<ServerUnaryCall<unknown, unknown>, "metadata" | "cancelled" | "getDeadline" | "sendMetadata">;

/**
 * A pass-through server call seen through one type: which members are used depends on the kind
 * (request for unary requests, data/end/pause/resume for request streams, write/end for response
 * streams), and the relay only touches those its route's kind has.
 */
type PassThroughCall = ServerCall & { request: Buffer } & Pick<ServerDuplexStream<Buffer, Buffer>, "write" | "end" | "pause" | "resume">;

/** A thrown error as a gRPC status: its own code and details when it has them, else fallbackCode and its message. */
export function toServiceError(error: unknown, fallbackCode: Status): Partial<ServiceError> {
  const { code, details, message, metadata } = error as Partial<ServiceError>;
  return {
    code: typeof code === "number" ? code : fallbackCode,
    details: details || message || String(error),
    metadata: metadata instanceof Metadata ? metadata : undefined,
  };
}

/** Ends a server call with an error status, whatever its kind. */
function fail(call: ServerCall, error: Partial<ServiceError>, callback?: sendUnaryData<Buffer>): void {
  if (callback) callback(error);
  else call.emit("error", error);
}

interface Route {
  plugin: string;
  type: MethodType;
}

interface Upstream {
  address: string;
  client: Client;
}

interface OpenedCall {
  plugin: string;
  client: Client;
  metadata: Metadata;
  deadline: Deadline;
}

export class Gateway implements MethodCatalog {
  private readonly server: Server;
  private readonly health = new HealthStatusBoard();
  /** Plugin services given a health status: a removed plugin's services turn NOT_SERVING. */
  private readonly pluginServices = new Set<string>();
  private readonly routes = new Map<string, Route>();
  private readonly upstreams = new Map<string, Upstream>();
  /** Last non-empty descriptors per plugin: a plugin that is down keeps its routes (and answers UNAVAILABLE). */
  private readonly pluginFiles = new Map<string, Uint8Array[]>();
  private readonly pluginStates = new Map<string, PluginRuntime["state"]>();
  private readonly kernelSource: DescriptorSource;
  private readonly credentialHeaders: ReadonlySet<string>;
  private readonly kernelCredential: Buffer;
  private readonly maxReceive: number;
  private readonly maxSend: number;
  private readonly unsubscribe: () => void;
  private current: DescriptorCatalog;
  private boundAddress: string | undefined;
  private loopback: LoopbackInvoker | undefined;

  constructor(private readonly options: GatewayOptions) {
    this.maxReceive = options.maxReceiveMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxSend = options.maxSendMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.credentialHeaders = new Set((options.credentialHeaders ?? DEFAULT_CREDENTIAL_HEADERS).map((h) => h.toLowerCase()));
    this.kernelCredential = options.kernelCredential ?? randomBytes(32);
    const keepalive = options.keepalive ?? {};
    const serverOptions: ChannelOptions = {
      "grpc.max_receive_message_length": this.maxReceive,
      "grpc.max_send_message_length": this.maxSend,
      "grpc.keepalive_time_ms": keepalive.timeMs ?? 2 * 60 * 60 * 1000,
      "grpc.keepalive_timeout_ms": keepalive.timeoutMs ?? 20_000,
      "grpc.http2.min_ping_interval_without_data_ms": keepalive.minClientPingIntervalMs ?? 5 * 60 * 1000,
      // Nothing reads channelz; its per-call bookkeeping is a measurable share of a relayed call's cost.
      "grpc.enable_channelz": 0,
    };
    if (keepalive.maxConnectionIdleMs !== undefined) serverOptions["grpc.max_connection_idle_ms"] = keepalive.maxConnectionIdleMs;
    if (keepalive.maxConnectionAgeMs !== undefined) serverOptions["grpc.max_connection_age_ms"] = keepalive.maxConnectionAgeMs;
    this.server = new Server({ ...serverOptions, interceptors: options.interceptors ?? [] });

    this.server.addService(HealthServiceDefinition, this.health.implementation());
    const reflectionFiles: Uint8Array[] = [];
    for (const version of loadReflectionVersions()) {
      this.server.addService(version.definition, { ServerReflectionInfo: reflectionHandler(() => this.current) });
      reflectionFiles.push(...version.files);
    }
    const localServices = options.localServices ?? [];
    const localNames: string[] = [];
    for (const service of localServices) {
      this.server.addService(service.definition, this.authenticated(service));
      const first = Object.values(service.definition)[0];
      if (first) localNames.push(first.path.split("/")[1]);
    }
    this.kernelSource = {
      owner: KERNEL_OWNER,
      files: [healthFileDescriptor(), ...reflectionFiles, ...this.localFiles(localNames)],
      services: [HEALTH_SERVICE, ...REFLECTION_SERVICES, ...localNames],
    };
    for (const service of this.kernelSource.services) this.health.set(service, ServingStatus.SERVING);
    this.health.set("", ServingStatus.SERVING);

    this.current = new DescriptorCatalog([this.kernelSource]);
    this.unsubscribe = options.directory.onChange(() => this.refresh());
    this.refresh();
  }

  /** Binds `address` ("host:port", port 0 for any; or "unix:/path") and serves. Resolves with the bound address. */
  async listen(address: string, serverCredentials: ServerCredentials = ServerCredentials.createInsecure()): Promise<string> {
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, serverCredentials, (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    this.boundAddress = address.startsWith("unix:") ? address : address.replace(/:\d+$/, `:${port}`);
    return this.boundAddress;
  }

  /** The bound address, once listening. */
  get address(): string | undefined {
    return this.boundAddress;
  }

  /**
   * Stops serving: health turns NOT_SERVING (so Watch streams see it), calls in flight get
   * `graceMs` to finish, then everything left is cancelled.
   */
  async close(graceMs = 5000): Promise<void> {
    this.unsubscribe();
    this.health.setAll(ServingStatus.NOT_SERVING);
    this.health.endWatches();
    this.loopback?.close();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    for (const upstream of this.upstreams.values()) upstream.client.close();
    this.upstreams.clear();
  }

  /** Calls through this gateway as a client would (what the HTTP/JSON layer uses). Needs listen() first. */
  invoker(): Invoker {
    if (this.boundAddress === undefined) throw new Error("the gateway is not listening yet");
    this.loopback ??= new LoopbackInvoker(this.boundAddress, {
      "grpc.max_receive_message_length": this.maxSend,
      "grpc.max_send_message_length": this.maxReceive,
    });
    return this.loopback;
  }

  describe(methodPath: string): MethodDescription | undefined {
    return this.current.describe(methodPath);
  }

  list(): MethodDescription[] {
    return this.current.list();
  }

  fileDescriptorSet(): Uint8Array {
    return this.current.fileDescriptorSet();
  }

  /** Descriptor files of the kernel's own services (and their dependencies) from the generated set. */
  private localFiles(services: string[]): Uint8Array[] {
    if (services.length === 0) return [];
    const generated = new DescriptorCatalog([
      { owner: KERNEL_OWNER, files: filesOfSet(this.options.localDescriptors ?? readKernelDescriptors()), services },
    ]);
    const files = new Map<string, Uint8Array>();
    for (const service of services) {
      const found = generated.fileContainingSymbol(service);
      if (found.length === 0) throw new Error(`no descriptor for local service ${service}`);
      for (const file of found) files.set(Buffer.from(file).toString("base64"), file);
    }
    return [...files.values()];
  }

  /** Follows the directory: descriptors, routes, health and upstream channels. */
  private refresh(): void {
    const plugins = this.options.directory.list();
    const listed = new Set(plugins.map((plugin) => plugin.name));
    for (const plugin of plugins) {
      const files = this.options.directory.descriptorsOf(plugin.name);
      if (files.length > 0) this.pluginFiles.set(plugin.name, files);
    }
    for (const name of [...this.pluginFiles.keys()]) if (!listed.has(name)) this.pluginFiles.delete(name);

    const sources = [
      this.kernelSource,
      ...plugins.map((plugin) => ({ owner: plugin.name, files: this.pluginFiles.get(plugin.name) ?? [], services: plugin.services })),
    ];
    this.current = new DescriptorCatalog(sources, (owner, error) =>
      this.options.logger?.warn(`plugin ${owner}: undecodable file descriptor ignored: ${error.message}`),
    );
    this.syncRoutes();

    const served = new Set(this.kernelSource.services);
    const stillServed = new Set<string>();
    for (const plugin of plugins) {
      for (const service of plugin.services) {
        if (served.has(service)) continue;
        served.add(service);
        stillServed.add(service);
        this.pluginServices.add(service);
        this.health.set(service, plugin.state === "ready" ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
      }
    }
    for (const service of this.pluginServices) {
      if (!stillServed.has(service)) this.health.set(service, ServingStatus.NOT_SERVING);
    }

    for (const plugin of plugins) {
      const upstream = this.upstreams.get(plugin.name);
      const cameBack = plugin.state === "ready" && this.pluginStates.get(plugin.name) !== "ready";
      // A fresh channel when the plugin (re)becomes ready skips any reconnect backoff left from its downtime.
      if (upstream && (upstream.address !== plugin.address || cameBack)) {
        upstream.client.close();
        this.upstreams.delete(plugin.name);
      }
      this.pluginStates.set(plugin.name, plugin.state);
    }
    for (const [name, upstream] of this.upstreams) {
      if (listed.has(name)) continue;
      upstream.client.close();
      this.upstreams.delete(name);
    }
    for (const name of [...this.pluginStates.keys()]) if (!listed.has(name)) this.pluginStates.delete(name);
  }

  private syncRoutes(): void {
    const wanted = new Map<string, Route>();
    for (const method of this.current.list()) {
      if (method.plugin !== KERNEL_OWNER) wanted.set(method.path, { plugin: method.plugin, type: methodType(method) });
    }
    for (const [methodPath, route] of this.routes) {
      const next = wanted.get(methodPath);
      if (next && next.plugin === route.plugin && next.type === route.type) continue;
      this.server.unregister(methodPath);
      this.routes.delete(methodPath);
    }
    for (const [methodPath, route] of wanted) {
      if (this.routes.has(methodPath)) continue;
      this.server.register(methodPath, this.forwarder(methodPath, route), passBytes, passBytes, route.type);
      this.routes.set(methodPath, route);
    }
  }

  private upstreamOf(plugin: PluginRuntime): Client {
    const existing = this.upstreams.get(plugin.name);
    if (existing && existing.address === plugin.address) return existing.client;
    existing?.client.close();
    const client = new Client(plugin.address, credentials.createInsecure(), {
      // A response the gateway could not send is refused as it arrives.
      "grpc.max_receive_message_length": this.maxSend,
      "grpc.max_send_message_length": this.maxReceive,
      "grpc.enable_channelz": 0,
    });
    this.upstreams.set(plugin.name, { address: plugin.address, client });
    return client;
  }

  private authenticateCall(methodPath: string, metadata: Metadata): Promise<Identity> {
    const rejected = (error: unknown): Promise<never> => Promise.reject(toServiceError(error, Status.UNAUTHENTICATED));
    try {
      return this.options.authenticate(methodPath, metadata).then(undefined, rejected);
    } catch (error) {
      return rejected(error);
    }
  }

  /** Checks the plugin is ready and builds the upstream metadata and deadline for an authenticated call. */
  private open(call: ServerCall, methodPath: string, pluginName: string, identity: Identity): OpenedCall {
    const plugin = this.options.directory.get(pluginName);
    if (plugin === undefined || plugin.state !== "ready") {
      const reason = plugin === undefined ? "not registered" : plugin.reason || plugin.state;
      throw { code: Status.UNAVAILABLE, details: `plugin ${pluginName} is unavailable: ${reason}` };
    }
    const metadata = requestMetadataForUpstream(call.metadata, this.credentialHeaders);
    for (const [key, value] of Object.entries(signIdentity(plugin.credential, identity, methodPath))) metadata.set(key, value);
    // Infinity when the client set none; grpc-js sends what remains of it as grpc-timeout.
    return { plugin: pluginName, client: this.upstreamOf(plugin), metadata, deadline: call.getDeadline() };
  }

  private statusForClient(pluginName: string, status: StatusObject, headersSeen: boolean): Partial<ServiceError> {
    // UNAVAILABLE before any response header means the plugin could not be reached at all.
    const details =
      status.code === Status.UNAVAILABLE && !headersSeen ? `plugin ${pluginName} is unavailable: ${status.details}` : status.details;
    return { code: status.code, details, metadata: responseMetadataForClient(status.metadata) };
  }

  private forwarder(methodPath: string, route: Route): UntypedHandleCall {
    const requestStream = route.type === "clientStream" || route.type === "bidi";
    // grpc-js passes a callback exactly when the response is a single message.
    return ((call: ServerCall, callback?: sendUnaryData<Buffer>) => {
      // One promise per call: everything after authentication is synchronous.
      this.authenticateCall(methodPath, call.metadata).then(
        (identity) => {
          if (call.cancelled) return;
          let up: OpenedCall;
          try {
            up = this.open(call, methodPath, route.plugin, identity);
          } catch (error) {
            fail(call, error as Partial<ServiceError>, callback);
            return;
          }
          this.relay(methodPath, up, call as PassThroughCall, requestStream, callback);
        },
        (error: Partial<ServiceError>) => fail(call, error, callback),
      );
    }) as UntypedHandleCall;
  }

  /**
   * One upstream call for one client call, whatever its kind, on the channel's raw call interface
   * (bytes in, bytes out; the client-side stream wrappers would only be unwrapped again). Messages
   * are relayed with flow control both ways: the next upstream message is read once the client's
   * stream took the last one, the next client message once the last one went upstream.
   * `respond` is the unary response callback; without it the response is a stream.
   */
  private relay(methodPath: string, up: OpenedCall, call: PassThroughCall, requestStream: boolean, respond?: sendUnaryData<Buffer>): void {
    const upstream = up.client.getChannel().createCall(methodPath, up.deadline, null, null, null);
    let headersSeen = false;
    let ended = false;
    let response: Buffer | undefined;
    upstream.start(up.metadata, {
      onReceiveMetadata: (metadata: Metadata) => {
        headersSeen = true;
        call.sendMetadata(responseMetadataForClient(metadata));
      },
      onReceiveMessage: (message: Buffer) => {
        if (respond) {
          response = message;
          upstream.startRead();
        } else if (call.write(message)) upstream.startRead();
        else call.once("drain", () => upstream.startRead());
      },
      onReceiveStatus: (status: StatusObject) => {
        ended = true;
        const trailers = responseMetadataForClient(status.metadata);
        if (status.code !== Status.OK) fail(call, this.statusForClient(up.plugin, status, headersSeen), respond);
        else if (!respond) call.end(trailers);
        else if (response === undefined) respond({ code: Status.INTERNAL, details: `plugin ${up.plugin} sent no response message` });
        else respond(null, response, trailers);
      },
    });
    if (requestStream) {
      call.on("data", (message: Buffer) => {
        if (ended) return;
        call.pause();
        upstream.sendMessageWithContext({ callback: () => call.resume() }, message);
      });
      call.on("end", () => {
        if (!ended) upstream.halfClose();
      });
    } else {
      upstream.sendMessageWithContext({}, call.request);
      upstream.halfClose();
    }
    upstream.startRead();
    call.on("cancelled", () => upstream.cancelWithStatus(Status.CANCELLED, "cancelled by the client"));
  }

  /** Wraps a local service so its calls are authenticated and carry kernel-signed identity headers. */
  private authenticated(service: LocalService): UntypedServiceImplementation {
    const wrapped: UntypedServiceImplementation = {};
    for (const [name, method] of Object.entries(service.definition)) {
      const handler = service.implementation[name] ?? service.implementation[method.originalName ?? name];
      if (handler === undefined) continue;
      const implementation = handler as (call: ServerCall, callback?: sendUnaryData<unknown>) => void;
      wrapped[name] = ((call: ServerCall, callback?: sendUnaryData<unknown>) => {
        this.authenticateCall(method.path, call.metadata).then(
          (identity) => {
            for (const key of Object.keys(call.metadata.getMap())) {
              if (key.startsWith(RESERVED_HEADER_PREFIX)) call.metadata.remove(key);
            }
            for (const [key, value] of Object.entries(signIdentity(this.kernelCredential, identity, method.path))) {
              call.metadata.set(key, value);
            }
            implementation(call, callback);
          },
          (error) => fail(call, error, callback as sendUnaryData<Buffer> | undefined),
        );
      }) as UntypedHandleCall;
    }
    return wrapped;
  }
}
