// grpc.health.v1.Health, hand-encoded: two one-field messages do not justify generated code, and
// both the plugin bootstrap (server) and the kernel's plugin host (client) need them.
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import * as grpc from "@grpc/grpc-js";

export const HEALTH_SERVICE = "grpc.health.v1.Health";
export const HEALTH_CHECK_PATH = `/${HEALTH_SERVICE}/Check`;
export const HEALTH_WATCH_PATH = `/${HEALTH_SERVICE}/Watch`;

/** grpc.health.v1.HealthCheckResponse.ServingStatus */
export enum ServingStatus {
  UNKNOWN = 0,
  SERVING = 1,
  NOT_SERVING = 2,
  SERVICE_UNKNOWN = 3,
}

export interface HealthCheckRequest {
  service: string;
}

export interface HealthCheckResponse {
  status: ServingStatus;
}

export function encodeHealthRequest(request: HealthCheckRequest): Buffer {
  const writer = new BinaryWriter();
  if (request.service !== "") writer.uint32(10).string(request.service);
  return Buffer.from(writer.finish());
}

export function decodeHealthRequest(bytes: Uint8Array): HealthCheckRequest {
  const reader = new BinaryReader(bytes);
  let service = "";
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 2) service = reader.string();
    else reader.skip(tag & 7);
  }
  return { service };
}

export function encodeHealthResponse(response: HealthCheckResponse): Buffer {
  const writer = new BinaryWriter();
  if (response.status !== ServingStatus.UNKNOWN) writer.uint32(8).int32(response.status);
  return Buffer.from(writer.finish());
}

export function decodeHealthResponse(bytes: Uint8Array): HealthCheckResponse {
  const reader = new BinaryReader(bytes);
  let status = ServingStatus.UNKNOWN;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 0) status = reader.int32() as ServingStatus;
    else reader.skip(tag & 7);
  }
  return { status };
}

/** grpc-js service definition of grpc.health.v1.Health (server and client side). */
export const HealthServiceDefinition = {
  check: {
    path: HEALTH_CHECK_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: HealthCheckRequest) => encodeHealthRequest(value),
    requestDeserialize: (bytes: Buffer) => decodeHealthRequest(bytes),
    responseSerialize: (value: HealthCheckResponse) => encodeHealthResponse(value),
    responseDeserialize: (bytes: Buffer) => decodeHealthResponse(bytes),
  },
  watch: {
    path: HEALTH_WATCH_PATH,
    requestStream: false,
    responseStream: true,
    requestSerialize: (value: HealthCheckRequest) => encodeHealthRequest(value),
    requestDeserialize: (bytes: Buffer) => decodeHealthRequest(bytes),
    responseSerialize: (value: HealthCheckResponse) => encodeHealthResponse(value),
    responseDeserialize: (bytes: Buffer) => decodeHealthResponse(bytes),
  },
} as const satisfies grpc.ServiceDefinition;

/**
 * Serving status per service name ("" is the whole server), served as grpc.health.v1.Health.
 * Check answers NOT_FOUND for a name never set; Watch streams SERVICE_UNKNOWN for it until it is.
 */
export class HealthStatusBoard {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watches = new Set<{ service: string; call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse> }>();

  set(service: string, status: ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const watch of this.watches) if (watch.service === service) watch.call.write({ status });
  }

  /** Sets every known service (and "") to `status`. */
  setAll(status: ServingStatus): void {
    for (const service of [...this.statuses.keys()]) this.set(service, status);
  }

  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** The implementation to pass to server.addService(HealthServiceDefinition, ...). */
  implementation(): grpc.UntypedServiceImplementation {
    const check: grpc.handleUnaryCall<HealthCheckRequest, HealthCheckResponse> = (call, callback) => {
      const status = this.statuses.get(call.request.service);
      if (status === undefined) {
        callback({ code: grpc.status.NOT_FOUND, details: `unknown service "${call.request.service}"` });
      } else {
        callback(null, { status });
      }
    };
    const watch: grpc.handleServerStreamingCall<HealthCheckRequest, HealthCheckResponse> = (call) => {
      const entry = { service: call.request.service, call };
      call.write({ status: this.statuses.get(entry.service) ?? ServingStatus.SERVICE_UNKNOWN });
      this.watches.add(entry);
      const forget = () => this.watches.delete(entry);
      call.on("cancelled", forget);
      call.on("close", forget);
      call.on("error", forget);
    };
    return { check, watch };
  }

  /** Ends every Watch stream, so a draining server does not wait on them forever. */
  endWatches(): void {
    for (const { call } of this.watches) call.end();
    this.watches.clear();
  }
}
