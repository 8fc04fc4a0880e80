// How `ol` calls the running kernel: its gRPC address from kernel.json, authenticated with the
// bootstrap admin API key from the data dir.
import { credentials, Metadata, type Client, type ServiceError } from "@grpc/grpc-js";
import { authV1, kernelV1 } from "@openledger/sdk";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { ADMIN_KEY_FILE } from "../auth";
import { readKernelState, runningKernelPid, type KernelState } from "./kernel-files";

export interface KernelConnection {
  state: KernelState;
  registry: InstanceType<typeof kernelV1.PluginRegistryServiceClient>;
  kernel: InstanceType<typeof kernelV1.KernelServiceClient>;
  auth: InstanceType<typeof authV1.AuthServiceClient>;
  metadata: Metadata;
  close(): void;
}

export function connectKernel(dataDir: string): KernelConnection {
  const pid = runningKernelPid(dataDir);
  const state = readKernelState(dataDir);
  if (pid === null || state === null || state.pid !== pid) {
    throw new Error(`no kernel is running on ${dataDir} (\`ol up\` starts one)`);
  }
  const keyFile = path.join(dataDir, "auth", ADMIN_KEY_FILE);
  if (!existsSync(keyFile)) throw new Error(`${keyFile} is missing: ol cannot authenticate to the kernel`);
  const metadata = new Metadata();
  metadata.set("x-api-key", readFileSync(keyFile, "utf8").trim());
  const registry = new kernelV1.PluginRegistryServiceClient(state.addresses.grpc, credentials.createInsecure());
  const kernel = new kernelV1.KernelServiceClient(state.addresses.grpc, credentials.createInsecure());
  const auth = new authV1.AuthServiceClient(state.addresses.grpc, credentials.createInsecure());
  return {
    state,
    registry,
    kernel,
    auth,
    metadata,
    close: () => {
      registry.close();
      kernel.close();
      auth.close();
    },
  };
}

/** Promise form of a generated unary client method. */
export function unary<Req, Res>(
  client: Client,
  method: (request: Req, metadata: Metadata, options: { deadline: number }, callback: (err: ServiceError | null, response: Res) => void) => unknown,
  request: Req,
  metadata: Metadata,
  timeoutMs = 10_000,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, request, metadata, { deadline: Date.now() + timeoutMs }, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

/** "PLUGIN_STATE_READY" → "ready". */
export function stateName(state: kernelV1.PluginState): string {
  return (kernelV1.PluginState[state] ?? "PLUGIN_STATE_UNSPECIFIED").replace("PLUGIN_STATE_", "").toLowerCase();
}
