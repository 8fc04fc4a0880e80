// openledger.kernel.v1.PluginRegistryService and KernelService over the plugin host, as grpc-js
// implementations the kernel serves on its gateway. The gateway authenticates each call and signs
// identity headers with the kernel's credential (as it does for plugins); these services trust
// only those.
import * as grpc from "@grpc/grpc-js";
import { PROTOCOL_VERSIONS, kernelV1, verifyIdentity, type Identity } from "@openledger/sdk";
import type { PluginDirectory, PluginRuntime, PluginStateName } from "../types";
import type { RemotePluginRegistration } from "../host";

/** What the registry needs from the host (PluginHost fits). */
export interface PluginRegistryBackend extends PluginDirectory {
  registerRemote(registration: RemotePluginRegistration): Promise<PluginRuntime>;
  deregisterRemote(name: string): Promise<void>;
}

export interface PluginRegistryOptions {
  /** Whether `address` may register and deregister remote plugins. Default: nobody but the kernel itself. */
  isAdmin?: (address: string) => boolean;
}

const SERVICE = "/openledger.kernel.v1.PluginRegistryService/";

const STATES: Record<PluginStateName, kernelV1.PluginState> = {
  starting: kernelV1.PluginState.PLUGIN_STATE_STARTING,
  ready: kernelV1.PluginState.PLUGIN_STATE_READY,
  backoff: kernelV1.PluginState.PLUGIN_STATE_BACKOFF,
  failed: kernelV1.PluginState.PLUGIN_STATE_FAILED,
  stopped: kernelV1.PluginState.PLUGIN_STATE_STOPPED,
};

/** The wire form of a plugin (never its credential). */
function toPluginInfo(plugin: PluginRuntime): kernelV1.PluginInfo {
  return {
    name: plugin.name,
    version: plugin.version,
    state: STATES[plugin.state],
    reason: plugin.reason,
    pid: plugin.pid,
    services: plugin.services,
    restarts: plugin.restarts,
    address: plugin.address,
    remote: plugin.remote,
    protocolVersion: plugin.protocolVersion,
    stateChangedAtMs: BigInt(plugin.stateChangedAt),
  };
}

class CallError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

function identityOf(call: { metadata: grpc.Metadata }, kernelCredential: Buffer, method: string): Identity {
  const identity = verifyIdentity(kernelCredential, (name) => call.metadata.get(name)[0]?.toString(), SERVICE + method);
  if (!identity) throw new CallError(grpc.status.UNAUTHENTICATED, "call carries no identity signed by the kernel gateway");
  return identity;
}

function toServiceError(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof CallError) return { code: err.code, details: err.message };
  return { code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

export function createPluginRegistryService(
  host: PluginRegistryBackend,
  kernelCredential: Buffer,
  options: PluginRegistryOptions = {},
): kernelV1.PluginRegistryServiceServer {
  const requireAdmin = (identity: Identity, action: string) => {
    if (identity.authMethod === "kernel") return;
    if (!identity.address) throw new CallError(grpc.status.UNAUTHENTICATED, `sign in to ${action}`);
    if (!options.isAdmin?.(identity.address)) throw new CallError(grpc.status.PERMISSION_DENIED, `only an admin may ${action}`);
  };
  return {
    listPlugins: (call, callback) => {
      try {
        identityOf(call, kernelCredential, "ListPlugins");
        callback(null, { plugins: host.list().map(toPluginInfo) });
      } catch (err) {
        callback(toServiceError(err));
      }
    },
    watchPlugins: (call) => {
      try {
        identityOf(call, kernelCredential, "WatchPlugins");
      } catch (err) {
        call.emit("error", toServiceError(err));
        return;
      }
      const unsubscribe = host.onChange((plugin) => call.write({ plugin: toPluginInfo(plugin) }));
      call.on("cancelled", unsubscribe);
      call.on("close", unsubscribe);
      for (const plugin of host.list()) call.write({ plugin: toPluginInfo(plugin) });
    },
    registerRemotePlugin: (call, callback) => {
      const { name, version, address, services, publicMethods } = call.request;
      Promise.resolve()
        .then(async () => {
          requireAdmin(identityOf(call, kernelCredential, "RegisterRemotePlugin"), "register plugins");
          if (!name || !address || services.length === 0) {
            throw new CallError(grpc.status.INVALID_ARGUMENT, "name, address and at least one service are required");
          }
          // A plugin may only open its own methods: otherwise a registration could make a kernel or
          // another plugin's method public.
          const foreign = publicMethods.filter((path) => !services.some((service) => path.startsWith(`/${service}/`)));
          if (foreign.length > 0) {
            throw new CallError(grpc.status.INVALID_ARGUMENT, `public methods must belong to the plugin's services: ${foreign.join(", ")}`);
          }
          try {
            return await host.registerRemote({ name, version, address, services, publicMethods });
          } catch (err) {
            throw new CallError(grpc.status.FAILED_PRECONDITION, `plugin ${name} refused: ${(err as Error).message}`);
          }
        })
        .then(
          (plugin) => callback(null, { plugin: toPluginInfo(plugin), credential: plugin.credential.toString("base64") }),
          (err: unknown) => callback(toServiceError(err)),
        );
    },
    deregisterRemotePlugin: (call, callback) => {
      Promise.resolve()
        .then(async () => {
          requireAdmin(identityOf(call, kernelCredential, "DeregisterRemotePlugin"), "deregister plugins");
          const plugin = host.get(call.request.name);
          if (!plugin) throw new CallError(grpc.status.NOT_FOUND, `no plugin named ${call.request.name}`);
          if (!plugin.remote) throw new CallError(grpc.status.FAILED_PRECONDITION, `plugin ${plugin.name} was started by the kernel, not registered`);
          await host.deregisterRemote(plugin.name);
        })
        .then(
          () => callback(null, {}),
          (err: unknown) => callback(toServiceError(err)),
        );
    },
  };
}

/** What GetKernelInfo reports besides the protocol versions (which come from the SDK). */
export type KernelInfo = Omit<kernelV1.GetKernelInfoResponse, "protocolVersions">;

/** KernelService: `info` is read on each call (addresses are known only once things listen). */
export function createKernelService(info: () => KernelInfo): kernelV1.KernelServiceServer {
  return {
    getKernelInfo: (_call, callback) => callback(null, { ...info(), protocolVersions: [...PROTOCOL_VERSIONS] }),
  };
}
