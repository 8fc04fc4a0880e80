// Temporal plumbing: the dev server the kernel starts for the embedded setup, connections, search
// attribute registration and workers.
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { Client, Connection } from "@temporalio/client";
import type { SearchAttributeType } from "@temporalio/common";
import { encodeSearchAttributeIndexedValueType } from "@temporalio/common/lib/search-attributes";
import { NativeConnection, Worker, type WorkerOptions } from "@temporalio/worker";
import { freePort, spawnManaged } from "../process/managed";
import { OL_SEARCH_ATTRIBUTES } from "./conventions";
import { findTool } from "./tools";

const DEV_SERVER_TYPE_NAMES: Record<SearchAttributeType, string> = {
  TEXT: "Text",
  KEYWORD: "Keyword",
  INT: "Int",
  DOUBLE: "Double",
  BOOL: "Bool",
  DATETIME: "Datetime",
  KEYWORD_LIST: "KeywordList",
};

export interface TemporalDevServerOptions {
  /** SQLite file holding workflow state across restarts. */
  dbFile: string;
  /** Front-end gRPC port; default a free one. */
  port?: number;
  /** Web UI port; default a free one. */
  uiPort?: number;
  /** Default "127.0.0.1". */
  ip?: string;
  /** Default "default". */
  namespace?: string;
  /** Registered in addition to OL_SEARCH_ATTRIBUTES. */
  searchAttributes?: Readonly<Record<string, SearchAttributeType>>;
  /** Default: .tools/bin/temporal, then PATH. */
  binary?: string;
  /** Receives the server's log lines (warnings and errors only). */
  onLine?: (line: string) => void;
  /** Default 60 s. */
  readyTimeoutMs?: number;
}

export interface TemporalDevServer {
  /** host:port of the front-end gRPC service. */
  address: string;
  /** http://host:port of the Web UI. */
  uiAddress: string;
  namespace: string;
  /** The dev server's process id (the kernel reports it in `ol status`). */
  pid: number;
  stop(): Promise<void>;
}

export interface TemporalConnection {
  namespace: string;
  /** For starting, signalling and querying workflows. */
  client: Client;
  connection: Connection;
  /** For workers. */
  nativeConnection: NativeConnection;
  close(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` and resolves once the namespace answers. The process dies with
 * its parent (spawnManaged).
 */
export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const ip = options.ip ?? "127.0.0.1";
  const namespace = options.namespace ?? "default";
  const port = options.port ?? (await freePort());
  const uiPort = options.uiPort ?? (await freePort());
  const attributes = { ...OL_SEARCH_ATTRIBUTES, ...options.searchAttributes };
  await mkdir(dirname(options.dbFile), { recursive: true });
  const args = [
    "server", "start-dev",
    "--db-filename", options.dbFile,
    "--port", String(port),
    "--ui-port", String(uiPort),
    "--ip", ip,
    "--log-level", "warn",
    "--namespace", namespace,
    ...Object.entries(attributes).flatMap(([name, type]) => ["--search-attribute", `${name}=${DEV_SERVER_TYPE_NAMES[type]}`]),
  ];
  const timeoutMs = options.readyTimeoutMs ?? 60000;
  const started = Date.now();
  const server = await spawnManaged(options.binary ?? findTool("temporal"), args, {
    readyPort: port,
    readyTimeoutMs: timeoutMs,
    onLine: options.onLine && ((line) => options.onLine!(line)),
  });
  const address = `${ip}:${port}`;
  try {
    await waitForNamespace(address, namespace, started + timeoutMs);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { address, uiAddress: `http://${ip}:${uiPort}`, namespace, pid: server.pid, stop: () => server.stop() };
}

/** The port accepts before the namespace is registered; poll until it describes. */
async function waitForNamespace(address: string, namespace: string, deadline: number): Promise<void> {
  const connection = await Connection.connect({ address, connectTimeout: 5000 });
  try {
    for (;;) {
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`Temporal at ${address}: namespace ${namespace} not ready: ${String(err)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  } finally {
    await connection.close();
  }
}

export interface ConnectTemporalOptions {
  /** Default "default". */
  namespace?: string;
  /** Default 10 s. */
  connectTimeoutMs?: number;
}

export async function connectTemporal(address: string, options: ConnectTemporalOptions = {}): Promise<TemporalConnection> {
  const namespace = options.namespace ?? "default";
  const connection = await Connection.connect({ address, connectTimeout: options.connectTimeoutMs ?? 10000 });
  const nativeConnection = await NativeConnection.connect({ address }).catch(async (err: unknown) => {
    await connection.close();
    throw err;
  });
  return {
    namespace,
    client: new Client({ connection, namespace }),
    connection,
    nativeConnection,
    async close() {
      await nativeConnection.close();
      await connection.close();
    },
  };
}

/**
 * Registers search attributes that the namespace lacks (a Temporal cluster; the dev server gets them
 * at start). Refuses an attribute that exists with another type.
 */
export async function ensureSearchAttributes(
  temporal: TemporalConnection,
  attributes: Readonly<Record<string, SearchAttributeType>> = OL_SEARCH_ATTRIBUTES,
): Promise<string[]> {
  const operator = temporal.connection.operatorService;
  const existing = await operator.listSearchAttributes({ namespace: temporal.namespace });
  const known = { ...existing.systemAttributes, ...existing.customAttributes };
  const missing: Record<string, NonNullable<ReturnType<typeof encodeSearchAttributeIndexedValueType>>> = {};
  for (const [name, type] of Object.entries(attributes)) {
    const wanted = encodeSearchAttributeIndexedValueType(type)!;
    if (known[name] === undefined) missing[name] = wanted;
    else if (known[name] !== wanted) throw new Error(`search attribute ${name} exists with another type than ${type}`);
  }
  if (Object.keys(missing).length > 0) {
    await operator.addSearchAttributes({ namespace: temporal.namespace, searchAttributes: missing });
  }
  return Object.keys(missing);
}

export interface CreateWorkerOptions {
  connection: TemporalConnection;
  taskQueue: string;
  /** Module exporting the workflow functions (bundled with webpack at creation: seconds). */
  workflowsPath: string;
  activities: object;
  /** Any other Temporal worker option (concurrency, interceptors, shutdown grace...). */
  options?: Omit<WorkerOptions, "connection" | "namespace" | "taskQueue" | "workflowsPath" | "activities">;
}

/** A worker on the connection's namespace; run it with worker.run(), stop it with worker.shutdown(). */
export function createWorker(options: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    ...options.options,
    connection: options.connection.nativeConnection,
    namespace: options.connection.namespace,
    taskQueue: options.taskQueue,
    workflowsPath: options.workflowsPath,
    activities: options.activities,
  });
}
