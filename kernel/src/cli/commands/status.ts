// `ol status` and `ol plugins`: what the running kernel reports through its PluginRegistryService
// and KernelService, plus the embedded services it started.
import type { Command } from "commander";
import type { kernelV1 } from "@openledger/sdk";
import { isAlive } from "../kernel-files";
import type { KernelConnection } from "../kernel-client";
import { withKernel, type KernelClientModule } from "../with-kernel";

export interface StatusReport {
  kernel: { pid: number; version: string; grpc: string; http: string; metrics: string; startedAtMs: number };
  embedded: { name: string; address: string; pid: number; running: boolean }[];
  external: { temporal: string; chainRpcUrl: string };
  plugins: {
    name: string;
    version: string;
    state: string;
    reason: string;
    pid: number;
    services: string[];
    restarts: number;
    address: string;
    remote: boolean;
  }[];
}

async function report(connection: KernelConnection, { stateName, unary }: KernelClientModule): Promise<StatusReport> {
  const { state, metadata } = connection;
  const info = await unary(connection.kernel, connection.kernel.getKernelInfo, {}, metadata);
  const list = await unary(connection.registry, connection.registry.listPlugins, {}, metadata);
  const embeddedNames = new Set(state.embedded.map((e) => e.name));
  return {
    kernel: { pid: state.pid, version: info.version, grpc: info.grpcAddress, http: info.httpAddress, metrics: info.metricsAddress, startedAtMs: state.startedAtMs },
    embedded: state.embedded.map((e) => ({ ...e, running: isAlive(e.pid) })),
    external: {
      temporal: embeddedNames.has("temporal") ? "" : info.temporalAddress,
      chainRpcUrl: embeddedNames.has("anvil") ? "" : info.chainRpcUrl,
    },
    plugins: list.plugins.map((p: kernelV1.PluginInfo) => ({
      name: p.name,
      version: p.version,
      state: stateName(p.state),
      reason: p.reason,
      pid: p.pid,
      services: p.services,
      restarts: p.restarts,
      address: p.address,
      remote: p.remote,
    })),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => `  ${row.map((cell, column) => cell.padEnd(widths[column])).join("  ")}`.trimEnd()).join("\n");
}

function pluginRows(plugins: StatusReport["plugins"]): string[][] {
  return [
    ["PLUGIN", "VERSION", "STATE", "PID", "RESTARTS", "SERVICES", "REASON"],
    ...plugins.map((p) => [p.name, p.version, p.state, p.remote ? "remote" : String(p.pid), String(p.restarts), p.services.join(","), p.reason]),
  ];
}

export function register(program: Command): void {
  program
    .command("status")
    .description("the running kernel: addresses, embedded services, each plugin's state, pid, services, restarts")
    .option("-c, --config <file>", "config file (default: $OL_CONFIG or ./openledger.yaml|yml|json)")
    .option("--json", "machine-readable output")
    .action((options: { config?: string; json?: boolean }) =>
      withKernel(options.config, async (connection, client) => {
        const status = await report(connection, client);
        if (options.json) {
          process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
          return;
        }
        const { kernel } = status;
        const lines = [
          `kernel ${kernel.version}  pid ${kernel.pid}  up since ${new Date(kernel.startedAtMs).toISOString()}`,
          `  gRPC ${kernel.grpc}   HTTP ${kernel.http}   metrics ${kernel.metrics || "disabled"}`,
          "embedded services:",
          ...(status.embedded.length ? status.embedded.map((e) => `  ${e.name.padEnd(9)} ${e.address}  pid ${e.pid}  ${e.running ? "running" : "NOT RUNNING"}`) : ["  none"]),
          ...(status.external.temporal ? [`external Temporal: ${status.external.temporal}`] : []),
          ...(status.external.chainRpcUrl ? [`external chain: ${status.external.chainRpcUrl}`] : []),
          "plugins:",
          status.plugins.length ? table(pluginRows(status.plugins)) : "  none",
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
      }),
    );
  program
    .command("plugins")
    .description("list the plugins the running kernel hosts")
    .option("-c, --config <file>", "config file (default: $OL_CONFIG or ./openledger.yaml|yml|json)")
    .action((options: { config?: string }) =>
      withKernel(options.config, async (connection, client) => {
        const status = await report(connection, client);
        process.stdout.write(`${status.plugins.length ? table(pluginRows(status.plugins)) : "  no plugins"}\n`);
      }),
    );
}
