// Real servers for the gateway's tests: an EchoService plugin (a plain grpc-js server that records
// what it observed) and a PluginDirectory the test drives by hand, standing in for the plugin host.
import { randomBytes } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { verifyIdentity, type Identity } from "@openledger/sdk";
import {
  EchoServiceService,
  type ChatRequest,
  type ConcatRequest,
  type CountRequest,
  type EchoRequest,
  type SleepRequest,
} from "@openledger/sdk/gen/openledger/examples/v1/echo";
import type { Authenticator, PluginDirectory, PluginRuntime } from "../../types";
import { filesOfSet } from "../catalog";
import { readKernelDescriptors } from "../gateway";

export const ECHO_SERVICE = "openledger.examples.v1.EchoService";
export const CALLER = "0x00000000000000000000000000000000000000a1";
export const API_KEY = "test-key-a1";
/** Echo answers this message with FAILED_PRECONDITION and a trailer. */
export const FAIL_MESSAGE = "fail";

/** Accepts `x-api-key: test-key-a1`; anonymous when no key is sent; refuses any other key. */
export const testAuthenticator: Authenticator = async (_method, metadata) => {
  const key = metadata.get("x-api-key")[0];
  if (key === undefined) return { address: "", authMethod: "none" };
  if (key !== API_KEY) throw Object.assign(new Error("unknown API key"), { code: grpc.status.UNAUTHENTICATED, details: "unknown API key" });
  return { address: CALLER, authMethod: "apikey" };
};

/** What the echo plugin saw, for assertions on the plugin side. */
export interface EchoObservations {
  /** Request metadata of every call, in arrival order. */
  metadata: grpc.Metadata[];
  /** Identity verified with the plugin's credential (null: none or forged), per call. */
  identities: (Identity | null)[];
  /** Method names whose handler saw the call cancelled. */
  cancelled: string[];
  /** The deadline each call arrived with (Infinity: none). */
  deadlines: number[];
}

export interface EchoPlugin {
  address: string;
  credential: Buffer;
  seen: EchoObservations;
  /** Resolves when a handler of `method` has seen a cancellation. */
  cancelledCall(method: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts an EchoService server on a free loopback port. */
export async function startEchoPlugin(credential: Buffer = randomBytes(32), port = 0): Promise<EchoPlugin> {
  const seen: EchoObservations = { metadata: [], identities: [], cancelled: [], deadlines: [] };
  const cancelWaiters: { method: string; resolve: () => void }[] = [];
  const observe = (
    method: string,
    call: { metadata: grpc.Metadata; getDeadline(): grpc.Deadline; on(event: "cancelled", listener: () => void): unknown },
  ): void => {
    seen.metadata.push(call.metadata);
    seen.deadlines.push(Number(call.getDeadline()));
    seen.identities.push(verifyIdentity(credential, (name) => call.metadata.get(name)[0]?.toString(), `/${ECHO_SERVICE}/${method}`));
    call.on("cancelled", () => {
      seen.cancelled.push(method);
      for (const waiter of cancelWaiters.filter((w) => w.method === method)) waiter.resolve();
    });
  };
  const server = new grpc.Server({ "grpc.max_receive_message_length": -1, "grpc.max_send_message_length": -1 });
  server.addService(EchoServiceService, {
    echo: (call: grpc.ServerUnaryCall<EchoRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      observe("Echo", call);
      const identity = seen.identities[seen.identities.length - 1];
      if (call.request.message === FAIL_MESSAGE) {
        callback({ code: grpc.status.FAILED_PRECONDITION, details: "asked to fail", metadata: headerWith("x-echo-trailer", "failed") });
        return;
      }
      call.sendMetadata(headerWith("x-echo-header", "h1"));
      callback(
        null,
        { message: call.request.message, payload: call.request.payload, caller: identity?.address ?? "", metadata: {} },
        headerWith("x-echo-trailer", "t1"),
      );
    },
    count: (call: grpc.ServerWritableStream<CountRequest, unknown>) => {
      observe("Count", call);
      let index = 0;
      const tick = (): void => {
        if (call.cancelled) return;
        if (index >= call.request.count) return void call.end();
        call.write({ index: index++ });
        setTimeout(tick, call.request.intervalMs);
      };
      tick();
    },
    concat: (call: grpc.ServerReadableStream<ConcatRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      observe("Concat", call);
      const parts: string[] = [];
      call.on("data", (request: ConcatRequest) => parts.push(request.part));
      call.on("end", () => callback(null, { joined: parts.join(""), parts: parts.length }));
    },
    chat: (call: grpc.ServerDuplexStream<ChatRequest, unknown>) => {
      observe("Chat", call);
      call.on("data", (request: ChatRequest) => call.write({ text: `echo: ${request.text}` }));
      call.on("end", () => call.end());
    },
    sleep: (call: grpc.ServerUnaryCall<SleepRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      observe("Sleep", call);
      const timer = setTimeout(() => callback(null, { cancelled: false }), call.request.ms);
      call.on("cancelled", () => clearTimeout(timer));
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${bound}`,
    credential,
    seen,
    cancelledCall: (method) =>
      seen.cancelled.includes(method) ? Promise.resolve() : new Promise((resolve) => cancelWaiters.push({ method, resolve })),
    // grpc-js's tryShutdown can miss the close of a session its peer has just closed (seen when the
    // Go data plane exits as the test ends), so it is bounded.
    stop: () =>
      Promise.race([new Promise<void>((resolve) => server.tryShutdown(() => resolve())), new Promise<void>((resolve) => setTimeout(resolve, 1000).unref())]).then(() =>
        server.forceShutdown(),
      ),
  };
}

function headerWith(key: string, value: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set(key, value);
  return metadata;
}

/** echo.proto's FileDescriptorProto, as a plugin would return it through reflection. */
export function echoDescriptors(): Uint8Array[] {
  return filesOfSet(readKernelDescriptors()).filter(
    (file) => fromBinary(FileDescriptorProtoSchema, file).name === "openledger/examples/v1/echo.proto",
  );
}

/** A PluginDirectory whose plugins the test registers and changes by hand. */
export class TestDirectory implements PluginDirectory {
  private readonly plugins = new Map<string, PluginRuntime>();
  private readonly files = new Map<string, Uint8Array[]>();
  private readonly listeners = new Set<(plugin: PluginRuntime) => void>();

  add(plugin: Pick<PluginRuntime, "name" | "address" | "credential" | "services">, files: Uint8Array[]): void {
    const runtime: PluginRuntime = {
      version: "1.0.0",
      state: "ready",
      reason: "",
      pid: 0,
      publicMethods: [],
      restarts: 0,
      remote: true,
      protocolVersion: 1,
      stateChangedAt: Date.now(),
      ...plugin,
    };
    this.plugins.set(plugin.name, runtime);
    this.files.set(plugin.name, files);
    this.emit(runtime);
  }

  update(name: string, change: Partial<PluginRuntime>): void {
    const runtime = { ...this.plugins.get(name)!, ...change, stateChangedAt: Date.now() };
    this.plugins.set(name, runtime);
    this.emit(runtime);
  }

  remove(name: string): void {
    const runtime = this.plugins.get(name)!;
    this.plugins.delete(name);
    this.files.delete(name);
    this.emit({ ...runtime, state: "stopped" });
  }

  list(): PluginRuntime[] {
    return [...this.plugins.values()];
  }

  get(name: string): PluginRuntime | undefined {
    return this.plugins.get(name);
  }

  findByService(service: string): PluginRuntime | undefined {
    return this.list().find((plugin) => plugin.services.includes(service));
  }

  onChange(listener: (plugin: PluginRuntime) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  descriptorsOf(name: string): Uint8Array[] {
    return this.files.get(name) ?? [];
  }

  private emit(plugin: PluginRuntime): void {
    for (const listener of this.listeners) listener(plugin);
  }
}
