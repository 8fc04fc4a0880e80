import { Server, ServerCredentials, credentials, Client, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { context } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-node";
import { PassThrough } from "node:stream";
import type { PluginRuntime } from "../types";
import { Telemetry } from "./index";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";
const bytes = (value: Buffer) => value;

describe("telemetry", () => {
  const spans = new InMemorySpanExporter();
  const logs = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  logs.on("data", (chunk: Buffer) => chunk.toString().split("\n").filter(Boolean).forEach((line) => lines.push(JSON.parse(line))));
  let telemetry: Telemetry;
  let server: Server;
  let client: Client;
  let seenTraceparent = "";

  beforeAll(async () => {
    telemetry = new Telemetry({
      serviceName: "ol-test",
      otlpEndpoint: "",
      logLevel: "info",
      spanProcessors: [new SimpleSpanProcessor(spans)],
      logDestination: logs,
    });
    telemetry.watchPlugins({ list: () => [{ name: "echo", state: "ready", restarts: 2 } as PluginRuntime] });
    server = new Server({ interceptors: [telemetry.grpcInterceptor()] });
    server.register(
      "/test.Svc/Ok",
      (call: { metadata: Metadata }, callback: (e: null, v: Buffer) => void) => {
        seenTraceparent = String(call.metadata.get("traceparent")[0] ?? "");
        callback(null, Buffer.from("ok"));
      },
      bytes,
      bytes,
      "unary",
    );
    server.register(
      "/test.Svc/Fail",
      (_call: unknown, callback: (e: Partial<ServiceError>) => void) => callback({ code: status.NOT_FOUND, details: "nothing here" }),
      bytes,
      bytes,
      "unary",
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    await telemetry.shutdown();
  });

  const call = (method: string, metadata = new Metadata()) =>
    new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(method, bytes, bytes, Buffer.alloc(0), metadata, (err, value) => (err ? reject(err) : resolve(value!))),
    );

  test("a call continues the client's trace and hands the kernel span to the handler", async () => {
    const metadata = new Metadata();
    metadata.set("traceparent", `00-${TRACE_ID}-${CLIENT_SPAN}-01`);
    await call("/test.Svc/Ok", metadata);
    const span = spans.getFinishedSpans().find((s) => s.name === "/test.Svc/Ok")!;
    expect(span.spanContext().traceId).toBe(TRACE_ID);
    expect(span.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    expect(seenTraceparent).toBe(`00-${TRACE_ID}-${span.spanContext().spanId}-01`);
    await expect(call("/test.Svc/Fail")).rejects.toMatchObject({ code: status.NOT_FOUND });
    const failed = spans.getFinishedSpans().find((s) => s.name === "/test.Svc/Fail")!;
    expect(failed.status).toMatchObject({ code: 2, message: "nothing here" });
  });

  test("metrics endpoint reports calls by method and code, latency, plugin state and restarts", async () => {
    await call("/test.Svc/Ok");
    const address = await telemetry.serveMetrics("127.0.0.1", 0);
    const text = await (await fetch(`http://${address}/metrics`)).text();
    expect(text).toMatch(/ol_calls_total\{method="\/test.Svc\/Ok",code="OK",transport="grpc"\} [2-9]/);
    expect(text).toContain('ol_calls_total{method="/test.Svc/Fail",code="NOT_FOUND",transport="grpc"} 1');
    expect(text).toMatch(/ol_call_duration_seconds_count\{method="\/test.Svc\/Ok",transport="grpc"\} [2-9]/);
    expect(text).toContain('ol_plugin_state{plugin="echo",state="ready"} 1');
    expect(text).toContain('ol_plugin_state{plugin="echo",state="failed"} 0');
    expect(text).toContain('ol_plugin_restarts{plugin="echo"} 2');
    expect((await fetch(`http://${address}/other`)).status).toBe(404);
  });

  test("logs written inside a call's context carry its trace and span ids", async () => {
    const observed = telemetry.startCall("/x.Y/Z", "http", () => undefined);
    context.with(observed.context, () => telemetry.logger.info("inside"));
    observed.end(status.OK);
    await new Promise((resolve) => setImmediate(resolve));
    const line = lines.find((l) => l.msg === "inside")!;
    expect(line).toMatchObject({ trace_id: observed.span.spanContext().traceId, span_id: observed.span.spanContext().spanId, service: "ol-test" });
  });
});

test("spans are exported over OTLP/gRPC when an endpoint is configured", async () => {
  // A real OTLP/gRPC receiver: the collector's TraceService/Export, answering an empty response.
  const received: Buffer[] = [];
  const collector = new Server();
  collector.register(
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    (call: { request: Buffer }, callback: (e: null, v: Buffer) => void) => {
      received.push(call.request);
      callback(null, Buffer.alloc(0));
    },
    bytes,
    bytes,
    "unary",
  );
  const port = await new Promise<number>((resolve, reject) =>
    collector.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  const exporting = new Telemetry({ serviceName: "ol-otlp-test", otlpEndpoint: `http://127.0.0.1:${port}`, logLevel: "silent" });
  exporting.startCall("/otlp.Test/Exported", "grpc", () => undefined).end(status.OK);
  await exporting.shutdown(); // flushes the batch
  await new Promise<void>((resolve) => collector.tryShutdown(() => resolve()));
  const text = Buffer.concat(received).toString("latin1");
  expect(text).toContain("/otlp.Test/Exported");
  expect(text).toContain("ol-otlp-test");
});
