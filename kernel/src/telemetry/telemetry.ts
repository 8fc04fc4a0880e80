// The kernel's telemetry: OpenTelemetry traces (a server span per call at the gateway and the HTTP
// layer; W3C trace context continued from the client and handed on to the plugin), Prometheus
// metrics (calls per method and code, latency, plugin states and restarts) and pino logs that carry
// the active trace and span ids.
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Context, type Span, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider, RandomIdGenerator, type IdGenerator, type SpanProcessor } from "@opentelemetry/sdk-trace-node";
import { Metadata, ServerInterceptingCall, status as GrpcStatus, type ServerInterceptor } from "@grpc/grpc-js";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pino, { type Logger } from "pino";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { PluginDirectory, PluginStateName } from "../types";

export interface TelemetryOptions {
  serviceName: string;
  /** OTLP/gRPC endpoint; "" = spans are created (ids in logs, context for plugins) but not exported. */
  otlpEndpoint: string;
  logLevel: string;
  /** Extra span processors (tests read spans with an InMemorySpanExporter). */
  spanProcessors?: SpanProcessor[];
  /** Where logs go; default stdout. */
  logDestination?: NodeJS.WritableStream;
}

/** One observed call; `end` records its span, counter and latency exactly once. */
export interface ObservedCall {
  span: Span;
  /** The call's context: run work inside it (context.with) so logs carry its trace id. */
  context: Context;
  /** traceparent/tracestate for the upstream call, continuing this span. */
  propagationHeaders(): Record<string, string>;
  end(code: GrpcStatus, message?: string): void;
}

/** A call another process relayed and timed (the gateway's Go data plane), with the span ids it
 *  already handed on to the plugin. */
export interface RelayedCall {
  method: string;
  code: GrpcStatus;
  message?: string;
  /** Unix µs when it arrived; µs it took. */
  startUs: number;
  durationUs: number;
  traceId: string;
  spanId: string;
  /** The client's span, when it sent one. */
  parentSpanId?: string;
  sampled: boolean;
}

/** Random ids, except while a relayed call's span is recorded with the ids it already has. */
class RelayedIdGenerator implements IdGenerator {
  private readonly random = new RandomIdGenerator();
  pinned: { traceId: string; spanId: string } | undefined;
  generateTraceId(): string {
    return this.pinned?.traceId ?? this.random.generateTraceId();
  }
  generateSpanId(): string {
    return this.pinned?.spanId ?? this.random.generateSpanId();
  }
}

const PLUGIN_STATES: PluginStateName[] = ["starting", "ready", "backoff", "failed", "stopped"];
const propagator = new W3CTraceContextPropagator();

let contextManagerInstalled = false;
function installContextManager(): void {
  // One per process; a second kernel in the same process (tests) shares it.
  if (contextManagerInstalled) return;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(propagator);
  contextManagerInstalled = true;
}

export class Telemetry {
  readonly logger: Logger;
  readonly registry = new Registry();
  readonly tracer: Tracer;
  private readonly provider: NodeTracerProvider;
  private readonly ids = new RelayedIdGenerator();
  private readonly calls: Counter<"method" | "code" | "transport">;
  private readonly latency: Histogram<"method" | "transport">;
  private metricsServer: Server | undefined;

  constructor(options: TelemetryOptions) {
    installContextManager();
    const spanProcessors = [...(options.spanProcessors ?? [])];
    if (options.otlpEndpoint) spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: options.otlpEndpoint })));
    this.provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ "service.name": options.serviceName }),
      spanProcessors,
      idGenerator: this.ids,
    });
    this.tracer = this.provider.getTracer("openledger-kernel");
    this.logger = pino(
      {
        level: options.logLevel,
        base: { service: options.serviceName },
        mixin() {
          const span = trace.getSpan(context.active());
          if (!span) return {};
          const { traceId, spanId } = span.spanContext();
          return { trace_id: traceId, span_id: spanId };
        },
      },
      options.logDestination ?? pino.destination(1),
    );
    collectDefaultMetrics({ register: this.registry, prefix: "ol_kernel_" });
    this.calls = new Counter({
      name: "ol_calls_total",
      // HTTP/JSON calls are relayed through the gRPC gateway, so each is counted under "http" at the
      // HTTP edge and again under "grpc": the "grpc" series alone is the total of calls.
      help: "Calls by method, gRPC status code and edge (grpc: every call, HTTP-relayed ones included; http: those that came in over HTTP/JSON).",
      labelNames: ["method", "code", "transport"],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: "ol_call_duration_seconds",
      help: "Time from receiving a call to sending its status.",
      labelNames: ["method", "transport"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
  }

  /** Starts observing a call whose incoming headers (for trace context) `header` reads. */
  startCall(method: string, transport: "grpc" | "http", header: (name: string) => string | undefined): ObservedCall {
    const parent = propagator.extract(context.active(), undefined, {
      get: (_carrier, key) => header(key),
      keys: () => ["traceparent", "tracestate"],
    });
    const span = this.tracer.startSpan(
      method,
      { kind: SpanKind.SERVER, attributes: { "rpc.system": "grpc", "rpc.method": method, "ol.transport": transport } },
      parent,
    );
    const callContext = trace.setSpan(parent, span);
    const stopTimer = this.latency.startTimer({ method, transport });
    let ended = false;
    return {
      span,
      context: callContext,
      propagationHeaders: () => {
        const headers: Record<string, string> = {};
        propagator.inject(callContext, headers, { set: (carrier, key, value) => (carrier[key] = value) });
        return headers;
      },
      end: (code, message) => {
        if (ended) return;
        ended = true;
        stopTimer();
        this.calls.inc({ method, code: GrpcStatus[code] ?? String(code), transport });
        span.setAttribute("rpc.grpc.status_code", code);
        if (code !== GrpcStatus.OK) span.setStatus({ code: SpanStatusCode.ERROR, message });
        span.end();
      },
    };
  }

  /** Records calls the data plane relayed: the same span, counter and latency as startCall's. */
  recordRelayedCalls(calls: readonly RelayedCall[]): void {
    for (const call of calls) {
      const parent = call.parentSpanId
        ? trace.setSpanContext(ROOT_CONTEXT, {
            traceId: call.traceId,
            spanId: call.parentSpanId,
            traceFlags: call.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
            isRemote: true,
          })
        : ROOT_CONTEXT;
      this.ids.pinned = { traceId: call.traceId, spanId: call.spanId };
      let span: Span;
      try {
        span = this.tracer.startSpan(
          call.method,
          { kind: SpanKind.SERVER, startTime: call.startUs / 1000, attributes: { "rpc.system": "grpc", "rpc.method": call.method, "ol.transport": "grpc" } },
          parent,
        );
      } finally {
        this.ids.pinned = undefined;
      }
      span.setAttribute("rpc.grpc.status_code", call.code);
      if (call.code !== GrpcStatus.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: call.message });
      span.end((call.startUs + call.durationUs) / 1000);
      this.calls.inc({ method: call.method, code: GrpcStatus[call.code] ?? String(call.code), transport: "grpc" });
      this.latency.observe({ method: call.method, transport: "grpc" }, call.durationUs / 1e6);
    }
  }

  /**
   * A grpc-js server interceptor for the gateway: a span and metrics per call, and the incoming
   * traceparent replaced by the kernel span's, so the plugin's spans are its children.
   */
  grpcInterceptor(): ServerInterceptor {
    return (descriptor, call) => {
      let observed: ObservedCall | undefined;
      return new ServerInterceptingCall(call, {
        start: (next) =>
          next({
            onReceiveMetadata: (metadata: Metadata, nextMetadata) => {
              observed = this.startCall(descriptor.path, "grpc", (name) => metadata.get(name)[0]?.toString());
              for (const [key, value] of Object.entries(observed.propagationHeaders())) metadata.set(key, value);
              nextMetadata(metadata);
            },
            onCancel: () => observed?.end(GrpcStatus.CANCELLED, "cancelled by the client"),
          }),
        sendStatus: (status, next) => {
          observed?.end(status.code, status.details);
          next(status);
        },
      });
    };
  }

  /** Exposes each plugin's state (one gauge per state, 1 for the current one) and restarts. */
  watchPlugins(directory: Pick<PluginDirectory, "list">): void {
    new Gauge({
      name: "ol_plugin_state",
      help: "1 for the plugin's current state, 0 for the others.",
      labelNames: ["plugin", "state"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const plugin of directory.list()) {
          for (const state of PLUGIN_STATES) this.set({ plugin: plugin.name, state }, plugin.state === state ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: "ol_plugin_restarts",
      help: "Times the kernel restarted the plugin since it started.",
      labelNames: ["plugin"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const plugin of directory.list()) this.set({ plugin: plugin.name }, plugin.restarts);
      },
    });
  }

  /** Serves GET /metrics (Prometheus text format). Resolves with "host:port". */
  async serveMetrics(host: string, port: number): Promise<string> {
    const server = createServer((request, response) => {
      if (request.method !== "GET" || request.url?.split("?")[0] !== "/metrics") {
        response.writeHead(404, { "content-type": "text/plain" }).end("only GET /metrics here\n");
        return;
      }
      this.registry.metrics().then(
        (text) => response.writeHead(200, { "content-type": this.registry.contentType }).end(text),
        (err: Error) => response.writeHead(500, { "content-type": "text/plain" }).end(`${err.message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    this.metricsServer = server;
    return `${host}:${(server.address() as AddressInfo).port}`;
  }

  /** Stops the metrics endpoint and flushes spans. */
  async shutdown(): Promise<void> {
    const server = this.metricsServer;
    this.metricsServer = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await this.provider.shutdown();
    this.logger.flush();
  }
}
