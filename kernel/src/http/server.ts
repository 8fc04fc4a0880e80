// HTTP/JSON for the browser, on its own port: `POST /rpc/<pkg.Service>/<Method>` with a JSON body.
// Unary methods answer JSON; server-streaming methods answer server-sent events (one `message` event
// per response, then `end`, or `error`). Calls go through the Invoker, i.e. through the gateway, so
// authentication (the same headers), identity signing and limits are exactly those of gRPC.
import { context } from "@opentelemetry/api";
import { Metadata, status as GrpcStatus } from "@grpc/grpc-js";
import type { JsonValue } from "@bufbuild/protobuf";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Telemetry } from "../telemetry";
import type { Invoker, MethodCatalog } from "../types";
import { JsonCodec } from "./json-codec";

export interface HttpGatewayOptions {
  catalog: MethodCatalog;
  invoker: Invoker;
  telemetry?: Telemetry;
  /** Origins allowed by CORS; ["*"] = any; [] = none (same origin only). */
  corsOrigins?: string[];
  /** Largest request body accepted; default 16 MiB (413 beyond). */
  maxBodyBytes?: number;
}

/** gRPC status → HTTP status, as grpc-gateway and Google APIs map them. */
export const HTTP_STATUS_OF: Readonly<Record<number, number>> = {
  [GrpcStatus.OK]: 200,
  [GrpcStatus.CANCELLED]: 499,
  [GrpcStatus.UNKNOWN]: 500,
  [GrpcStatus.INVALID_ARGUMENT]: 400,
  [GrpcStatus.DEADLINE_EXCEEDED]: 504,
  [GrpcStatus.NOT_FOUND]: 404,
  [GrpcStatus.ALREADY_EXISTS]: 409,
  [GrpcStatus.PERMISSION_DENIED]: 403,
  [GrpcStatus.RESOURCE_EXHAUSTED]: 429,
  [GrpcStatus.FAILED_PRECONDITION]: 400,
  [GrpcStatus.ABORTED]: 409,
  [GrpcStatus.OUT_OF_RANGE]: 400,
  [GrpcStatus.UNIMPLEMENTED]: 501,
  [GrpcStatus.INTERNAL]: 500,
  [GrpcStatus.UNAVAILABLE]: 503,
  [GrpcStatus.DATA_LOSS]: 500,
  [GrpcStatus.UNAUTHENTICATED]: 401,
};

/** Request headers that describe the HTTP exchange itself and are not call metadata. */
const NOT_METADATA = new Set([
  "host", "connection", "keep-alive", "content-length", "content-type", "accept", "accept-encoding",
  "accept-language", "transfer-encoding", "upgrade", "te", "origin", "referer", "user-agent", "cookie",
  "cache-control", "pragma", "sec-fetch-mode", "sec-fetch-site", "sec-fetch-dest",
]);

class CallError extends Error {
  constructor(
    readonly code: GrpcStatus,
    message: string,
    /** When the HTTP status is more specific than the gRPC code's (413 for a too-large body). */
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

export interface ErrorBody {
  /** gRPC status code (number) and its name. */
  code: number;
  status: string;
  message: string;
}

function errorBody(err: unknown): ErrorBody {
  const { code, details, message } = err as { code?: unknown; details?: string; message?: string };
  const grpcCode = typeof code === "number" && code in HTTP_STATUS_OF ? code : GrpcStatus.INTERNAL;
  return { code: grpcCode, status: GrpcStatus[grpcCode], message: details || message || String(err) };
}

function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Past the limit the rest is read and dropped, so the client still gets its 413.
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    request.on("end", () => {
      if (size > limit) reject(new CallError(GrpcStatus.RESOURCE_EXHAUSTED, `request body is larger than ${limit} bytes`, 413));
      else resolve(Buffer.concat(chunks));
    });
    request.on("error", reject);
  });
}

export class HttpGateway {
  private readonly server: Server;
  private readonly codec: JsonCodec;
  private readonly maxBodyBytes: number;

  constructor(private readonly options: HttpGatewayOptions) {
    this.codec = new JsonCodec(options.catalog);
    this.maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
    this.server = createServer((request, response) => void this.handle(request, response));
  }

  /** Listens on host:port (0 = any free port); resolves with "host:port". */
  async listen(host: string, port: number): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => resolve());
    });
    return `${host}:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private cors(request: IncomingMessage, response: ServerResponse): void {
    const origin = request.headers.origin;
    const allowed = this.options.corsOrigins ?? [];
    if (!origin || !(allowed.includes("*") || allowed.includes(origin))) return;
    response.setHeader("access-control-allow-origin", allowed.includes("*") ? "*" : origin);
    response.setHeader("vary", "origin");
    response.setHeader("access-control-allow-methods", "POST, OPTIONS");
    response.setHeader("access-control-allow-headers", "authorization, x-api-key, content-type, traceparent, tracestate");
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.cors(request, response);
    if (request.method === "OPTIONS") {
      response.writeHead(204).end();
      return;
    }
    const url = new URL(request.url ?? "/", "http://kernel");
    const match = /^\/rpc\/([A-Za-z0-9_.]+)\/([A-Za-z0-9_]+)$/.exec(url.pathname);
    if (!match) {
      this.sendError(response, new CallError(GrpcStatus.NOT_FOUND, `no route ${url.pathname}: use POST /rpc/<package.Service>/<Method>`));
      return;
    }
    const path = `/${match[1]}/${match[2]}`;
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const method = this.options.catalog.describe(path);
    // Unknown paths share one label: metrics must not grow with whatever URLs clients send.
    const observed = this.options.telemetry?.startCall(method ? path : "unknown", "http", header);
    const finish = (code: GrpcStatus, message?: string) => observed?.end(code, message);
    const run = async () => {
      try {
        if (request.method !== "POST") throw new CallError(GrpcStatus.UNIMPLEMENTED, `use POST for ${path}`);
        if (!method) throw new CallError(GrpcStatus.UNIMPLEMENTED, `unknown method ${path}`);
        if (method.clientStreaming) {
          throw new CallError(GrpcStatus.UNIMPLEMENTED, `${path} is client-streaming, which HTTP/JSON does not carry: use gRPC`);
        }
        const requestBytes = await this.requestMessage(request, method.requestType);
        const metadata = this.metadataOf(request, observed?.propagationHeaders() ?? {});
        const abort = new AbortController();
        response.on("close", () => abort.abort());
        if (method.serverStreaming) {
          await this.stream(path, method.responseType, requestBytes, metadata, abort.signal, response);
        } else {
          const reply = await this.options.invoker.unary(path, requestBytes, { metadata, signal: abort.signal });
          const body = JSON.stringify(this.codec.decode(method.responseType, reply));
          response.writeHead(200, { "content-type": "application/json" }).end(body);
        }
        finish(GrpcStatus.OK);
      } catch (err) {
        const body = errorBody(err);
        finish(body.code, body.message);
        if (response.headersSent) this.sendEvent(response, "error", body);
        else this.sendError(response, err);
        response.end();
      }
    };
    await (observed ? context.with(observed.context, run) : run());
  }

  private async requestMessage(request: IncomingMessage, typeName: string): Promise<Uint8Array> {
    const body = await readBody(request, this.maxBodyBytes);
    let json: JsonValue = {};
    if (body.length > 0) {
      try {
        json = JSON.parse(body.toString("utf8")) as JsonValue;
      } catch (err) {
        throw new CallError(GrpcStatus.INVALID_ARGUMENT, `request body is not JSON: ${(err as Error).message}`);
      }
    }
    try {
      return this.codec.encode(typeName, json);
    } catch (err) {
      throw new CallError(GrpcStatus.INVALID_ARGUMENT, `request body does not fit ${typeName}: ${(err as Error).message}`);
    }
  }

  private metadataOf(request: IncomingMessage, trace: Record<string, string>): Metadata {
    const metadata = new Metadata();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value === undefined || NOT_METADATA.has(name) || name.startsWith(":") || name.endsWith("-bin")) continue;
      for (const item of Array.isArray(value) ? value : [value]) metadata.add(name, item);
    }
    for (const [name, value] of Object.entries(trace)) metadata.set(name, value);
    return metadata;
  }

  private async stream(
    path: string,
    responseType: string,
    requestBytes: Uint8Array,
    metadata: Metadata,
    signal: AbortSignal,
    response: ServerResponse,
  ): Promise<void> {
    const messages = this.options.invoker.serverStream(path, requestBytes, { metadata, signal })[Symbol.asyncIterator]();
    // Wait for the first message (or the error) before committing to 200, so a refused call still
    // gets its HTTP status (401, 503, ...).
    let next = await messages.next();
    response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    response.flushHeaders();
    while (!next.done) {
      this.sendEvent(response, "message", this.codec.decode(responseType, next.value));
      next = await messages.next();
    }
    this.sendEvent(response, "end", { code: GrpcStatus.OK, status: "OK", message: "" });
    response.end();
  }

  private sendEvent(response: ServerResponse, event: string, data: unknown): void {
    response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private sendError(response: ServerResponse, err: unknown): void {
    const body = errorBody(err);
    const httpStatus = (err instanceof CallError && err.httpStatus) || HTTP_STATUS_OF[body.code] || 500;
    response.writeHead(httpStatus, { "content-type": "application/json" }).end(JSON.stringify(body));
  }
}
