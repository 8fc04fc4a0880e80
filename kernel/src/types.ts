// Interfaces between the kernel's parts (host, gateway, auth, HTTP, CLI), so each can be built and
// tested alone. Implementations live in their folders; kernel.ts wires them together.
import type { Metadata } from "@grpc/grpc-js";
import type { Identity } from "@openledger/sdk";

/**
 * Authenticates a call to `method` ("/pkg.Service/Method") from its incoming metadata. Resolves
 * with the caller's identity (authMethod "none" and address "" for an anonymous call to a public
 * method). Rejects with a grpc ServiceError of code UNAUTHENTICATED and a reason otherwise.
 */
export type Authenticator = (method: string, metadata: Metadata) => Promise<Identity>;

/** One RPC of a registered service, as learned from the plugin's reflection. */
export interface MethodDescription {
  /** "/pkg.Service/Method" */
  path: string;
  /** "pkg.Service" */
  service: string;
  /** Name of the plugin that serves it (or "kernel"). */
  plugin: string;
  /** Fully qualified message type names, without a leading dot. */
  requestType: string;
  responseType: string;
  clientStreaming: boolean;
  serverStreaming: boolean;
}

/** What the gateway knows about the services it routes to. */
export interface MethodCatalog {
  describe(path: string): MethodDescription | undefined;
  list(): MethodDescription[];
  /** Serialized google.protobuf.FileDescriptorSet covering every registered service and its deps. */
  fileDescriptorSet(): Uint8Array;
}

export interface InvokeOptions {
  /** Incoming metadata from the client (the invoker authenticates and re-signs identity). */
  metadata: Metadata;
  /** Absolute deadline (ms since epoch); undefined = none. */
  deadline?: number;
  /** Aborts the upstream call. */
  signal?: AbortSignal;
}

/** Calls a registered method with serialized messages: what the HTTP/JSON layer uses. */
export interface Invoker {
  unary(path: string, request: Uint8Array, options: InvokeOptions): Promise<Uint8Array>;
  serverStream(path: string, request: Uint8Array, options: InvokeOptions): AsyncIterable<Uint8Array>;
}

export type PluginStateName = "starting" | "ready" | "backoff" | "failed" | "stopped";

/** A plugin as the host knows it: started by the kernel, or remote (registered by address). */
export interface PluginRuntime {
  name: string;
  version: string;
  state: PluginStateName;
  /** Why it is in this state (failure reason, backoff cause); "" when ready. */
  reason: string;
  /** 0 for remote plugins. */
  pid: number;
  /** Fully qualified service names it provides. */
  services: string[];
  /** Method paths ("/pkg.Service/Method") callable without authentication. */
  publicMethods: string[];
  restarts: number;
  /** "unix:/path" or "host:port". */
  address: string;
  remote: boolean;
  protocolVersion: number;
  /** Secret shared with this plugin: the gateway signs identity headers with it. */
  credential: Buffer;
  stateChangedAt: number;
}

/** What the gateway, the registry service and the CLI need from the plugin host. */
export interface PluginDirectory {
  list(): PluginRuntime[];
  get(name: string): PluginRuntime | undefined;
  /** The plugin that provides `service` ("pkg.Service"), whatever its state. */
  findByService(service: string): PluginRuntime | undefined;
  /** Called on every state change (and on registration/removal). Returns an unsubscribe function. */
  onChange(listener: (plugin: PluginRuntime) => void): () => void;
  /**
   * Serialized google.protobuf.FileDescriptorProto messages the plugin `name` returned through
   * reflection (FileContainingSymbol for each of its services, with their dependencies), learned at
   * its last verification; [] when unknown. The gateway merges them to serve reflection for the
   * union of services and to transcode JSON.
   */
  descriptorsOf(name: string): Uint8Array[];
}
