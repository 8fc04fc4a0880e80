// Temporal helpers end to end on a real dev server: one server (and one bundled worker) per file.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WorkflowExecutionAlreadyStartedError } from "@temporalio/client";
import { SearchAttributeType } from "@temporalio/common";
import { DefaultLogger, Runtime, type Worker } from "@temporalio/worker";
import {
  connectTemporal,
  createWorker,
  ensureSearchAttributes,
  parseWorkflowId,
  startTemporalDevServer,
  workflowId,
  workflowQuery,
  workflowStartOptions,
  type TemporalConnection,
  type TemporalDevServer,
} from "./index";
import { createGreetingActivities } from "./testdata/greeting-activities";

Runtime.install({ logger: new DefaultLogger("ERROR") });

describe("workflow id conventions", () => {
  test("ids are <kind>/<key...> and parse back; bad parts are refused", () => {
    expect(workflowId("approval", "datanet-1", "record-9")).toBe("approval/datanet-1/record-9");
    expect(parseWorkflowId("approval/datanet-1/record-9")).toEqual({ kind: "approval", key: ["datanet-1", "record-9"] });
    expect(() => workflowId("Approval", "x")).toThrow(/kind/);
    expect(() => workflowId("approval")).toThrow(/needs a key/);
    expect(() => workflowId("approval", "a/b")).toThrow(/key part/);
    expect(() => parseWorkflowId("approval")).toThrow(/needs a key/);
    expect(workflowQuery("settle", "2026")).toBe("OlKind = 'settle' AND OlKey STARTS_WITH '2026'");
    expect(workflowQuery("settle", "it's")).toBe("OlKind = 'settle' AND OlKey STARTS_WITH 'it\\'s'");
  });
});

describe("Temporal dev server", () => {
  let dir: string;
  let server: TemporalDevServer;
  let temporal: TemporalConnection;
  let worker: Worker;
  let running: Promise<void>;
  const attempts = new Map<string, number>();
  const taskQueue = "greetings";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ol-temporal-test-"));
    server = await startTemporalDevServer({ dbFile: join(dir, "state", "temporal.db") });
    temporal = await connectTemporal(server.address);
    worker = await createWorker({
      connection: temporal,
      taskQueue,
      workflowsPath: require.resolve("./testdata/greeting-workflows"),
      activities: createGreetingActivities(attempts),
    });
    running = worker.run();
  }, 120000);

  afterAll(async () => {
    if (worker?.getState() === "RUNNING") worker.shutdown();
    await running;
    await temporal?.close();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60000);

  test("a workflow waits for a signal, runs a retried activity, and is found by its search attributes", async () => {
    const start = workflowStartOptions("greeting", "alice");
    const handle = await temporal.client.workflow.start("greetingWorkflow", { taskQueue, args: ["alice"], ...start });
    expect(handle.workflowId).toBe("greeting/alice");
    expect(await handle.query<string>("status")).toBe("waiting");
    await expect(
      temporal.client.workflow.start("greetingWorkflow", { taskQueue, args: ["alice"], ...start }),
    ).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
    await handle.signal("decide", true);
    expect(await handle.result()).toBe("hello, alice (attempt 2)");

    const rejected = await temporal.client.workflow.start("greetingWorkflow", {
      taskQueue,
      args: ["bob"],
      ...workflowStartOptions("greeting", "bob"),
    });
    await rejected.signal("decide", false);
    expect(await rejected.result()).toBe("rejected bob");

    let found: string[] = [];
    for (let i = 0; i < 50 && found.length < 2; i++) {
      found = [];
      for await (const execution of temporal.client.workflow.list({ query: workflowQuery("greeting") })) {
        found.push(execution.workflowId);
      }
      if (found.length < 2) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(found.sort()).toEqual(["greeting/alice", "greeting/bob"]);
    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(start.typedSearchAttributes[1]!.key)).toBe("alice");
  });

  test("ensureSearchAttributes adds only what is missing", async () => {
    expect(await ensureSearchAttributes(temporal)).toEqual([]);
    expect(await ensureSearchAttributes(temporal, { OlEpoch: SearchAttributeType.INT })).toEqual(["OlEpoch"]);
    expect(await ensureSearchAttributes(temporal, { OlEpoch: SearchAttributeType.INT })).toEqual([]);
    await expect(ensureSearchAttributes(temporal, { OlKind: SearchAttributeType.INT })).rejects.toThrow(/another type/);
  });

  test("a bad address fails to connect with an error", async () => {
    await expect(connectTemporal("127.0.0.1:1", { connectTimeoutMs: 300 })).rejects.toThrow();
  });

  // Last: it restarts the server.
  test("workflow history survives a server restart on the same database file", async () => {
    worker.shutdown();
    await running;
    await temporal.close();
    await server.stop();
    server = await startTemporalDevServer({ dbFile: join(dir, "state", "temporal.db") });
    temporal = await connectTemporal(server.address);
    const description = await temporal.client.workflow.getHandle("greeting/alice").describe();
    expect(description.status.name).toBe("COMPLETED");
    running = Promise.resolve();
  }, 60000);
});
