// Runs a verb connected to the running kernel. The client module is loaded only here: the gRPC
// clients come with the whole SDK, which verbs that do not talk to the kernel should not wait for.
import { loadConfig } from "../config";
import type { KernelConnection } from "./kernel-client";

export type KernelClientModule = typeof import("./kernel-client");

export async function withKernel(
  configFile: string | undefined,
  use: (connection: KernelConnection, client: KernelClientModule) => Promise<void>,
): Promise<void> {
  const client = await import("./kernel-client");
  const connection = client.connectKernel(loadConfig({ file: configFile }).config.dataDir);
  try {
    await use(connection, client);
  } finally {
    connection.close();
  }
}
