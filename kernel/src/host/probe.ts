// What the host asks a plugin before trusting it: grpc.health.v1 (Check, Watch) and server
// reflection (ListServices, FileContainingSymbol), spoken with hand-encoded messages so the kernel
// needs no generated code for them. Reflection v1 is tried first, then v1alpha.
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import * as grpc from "@grpc/grpc-js";
import {
  HEALTH_CHECK_PATH,
  HEALTH_WATCH_PATH,
  ServingStatus,
  decodeHealthResponse,
  encodeHealthRequest,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from "@openledger/sdk";

const REFLECTION_PATHS = [
  "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
  "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/** A reflection request: exactly one of the two. */
type ReflectionRequest = { listServices: string } | { fileContainingSymbol: string };

interface ReflectionResponse {
  services: string[];
  fileDescriptors: Uint8Array[];
  error?: { code: number; message: string };
}

function encodeReflectionRequest(request: ReflectionRequest): Buffer {
  const writer = new BinaryWriter();
  if ("listServices" in request) writer.uint32((7 << 3) | 2).string(request.listServices);
  else writer.uint32((4 << 3) | 2).string(request.fileContainingSymbol);
  return Buffer.from(writer.finish());
}

/** Calls `visit(field, reader)` for every field of a message; the visitor must consume or skip it. */
function eachField(bytes: Uint8Array, visit: (field: number, wireType: number, reader: BinaryReader) => boolean): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (!visit(tag >>> 3, tag & 7, reader)) reader.skip(tag & 7);
  }
}

function decodeReflectionResponse(bytes: Uint8Array): ReflectionResponse {
  const response: ReflectionResponse = { services: [], fileDescriptors: [] };
  eachField(bytes, (field, wire, reader) => {
    if (wire !== 2) return false;
    if (field === 4) {
      eachField(reader.bytes(), (f, w, r) => (f === 1 && w === 2 ? (response.fileDescriptors.push(r.bytes()), true) : false));
    } else if (field === 6) {
      eachField(reader.bytes(), (f, w, r) => {
        if (f !== 1 || w !== 2) return false;
        eachField(r.bytes(), (g, gw, gr) => (g === 1 && gw === 2 ? (response.services.push(gr.string()), true) : false));
        return true;
      });
    } else if (field === 7) {
      const error = { code: 0, message: "" };
      eachField(reader.bytes(), (f, w, r) => {
        if (f === 1 && w === 0) error.code = r.int32();
        else if (f === 2 && w === 2) error.message = r.string();
        else return false;
        return true;
      });
      response.error = error;
    } else {
      return false;
    }
    return true;
  });
  return response;
}

/** The `name` (field 1) of a serialized google.protobuf.FileDescriptorProto. */
export function fileDescriptorName(bytes: Uint8Array): string {
  let name = "";
  eachField(bytes, (field, wire, reader) => (field === 1 && wire === 2 ? ((name = reader.string()), true) : false));
  return name;
}

const passBuffer = (value: Buffer): Buffer => value;

function reflectOnce(client: grpc.Client, path: string, request: ReflectionRequest, deadline: number): Promise<ReflectionResponse> {
  return new Promise((resolve, reject) => {
    const stream = client.makeBidiStreamRequest(path, passBuffer, passBuffer, new grpc.Metadata(), { deadline });
    let answered = false;
    stream.on("data", (bytes: Buffer) => {
      if (answered) return;
      answered = true;
      resolve(decodeReflectionResponse(bytes));
      stream.cancel();
    });
    stream.on("error", (err: grpc.ServiceError) => {
      if (!answered) reject(err);
    });
    stream.on("end", () => {
      if (!answered) reject(new Error("reflection stream ended without a response"));
    });
    stream.write(encodeReflectionRequest(request));
    stream.end();
  });
}

/** Thrown when the plugin answers, but not what it promised: the host refuses it (no restart). */
export class PluginRefusal extends Error {}

async function reflect(client: grpc.Client, request: ReflectionRequest, deadline: number): Promise<ReflectionResponse> {
  let lastError: unknown;
  for (const path of REFLECTION_PATHS) {
    try {
      return await reflectOnce(client, path, request, deadline);
    } catch (err) {
      if ((err as grpc.ServiceError).code !== grpc.status.UNIMPLEMENTED) throw err;
      lastError = err;
    }
  }
  throw new PluginRefusal(`it serves no server reflection (grpc.reflection.v1 or v1alpha): ${(lastError as Error).message}`);
}

function healthCheck(client: grpc.Client, service: string, deadline: number): Promise<ServingStatus> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest<HealthCheckRequest, HealthCheckResponse>(
      HEALTH_CHECK_PATH,
      encodeHealthRequest,
      decodeHealthResponse,
      { service },
      new grpc.Metadata(),
      { deadline },
      (err, response) => (err ? reject(err) : resolve(response!.status)),
    );
  });
}

/** Streams the serving status of `service` ("" = the whole server). Returns the call, to cancel it. */
export function watchHealth(
  client: grpc.Client,
  service: string,
  onStatus: (status: ServingStatus) => void,
  onEnd: (reason: string) => void,
): grpc.ClientReadableStream<HealthCheckResponse> {
  const call = client.makeServerStreamRequest<HealthCheckRequest, HealthCheckResponse>(
    HEALTH_WATCH_PATH,
    encodeHealthRequest,
    decodeHealthResponse,
    { service },
    new grpc.Metadata(),
  );
  call.on("data", (response: HealthCheckResponse) => onStatus(response.status));
  call.on("error", (err: grpc.ServiceError) => {
    if (err.code !== grpc.status.CANCELLED) onEnd(err.details || err.message);
  });
  call.on("end", () => onEnd("health watch ended"));
  return call;
}

export interface Verification {
  /** Serialized FileDescriptorProtos of the promised services and their dependencies, by file name. */
  descriptors: Uint8Array[];
}

/**
 * Checks that the plugin at `client` is SERVING and serves every promised service, then fetches
 * their file descriptors. Rejects with PluginRefusal when it answers but breaks a promise; with
 * another error when it could not be asked (not up yet, gone).
 */
export async function verifyPlugin(client: grpc.Client, services: readonly string[], deadline: number): Promise<Verification> {
  const status = await healthCheck(client, "", deadline);
  if (status !== ServingStatus.SERVING) {
    throw new PluginRefusal(`grpc.health.v1 Check reports ${ServingStatus[status] ?? status}, not SERVING`);
  }
  const listed = await reflect(client, { listServices: "*" }, deadline);
  if (listed.error) throw new PluginRefusal(`reflection ListServices failed: ${listed.error.message}`);
  const missing = services.filter((service) => !listed.services.includes(service));
  if (missing.length > 0) {
    throw new PluginRefusal(
      `it promises ${missing.join(", ")} but does not serve ${missing.length === 1 ? "it" : "them"} ` +
        `(reflection lists: ${listed.services.join(", ") || "nothing"})`,
    );
  }
  const byName = new Map<string, Uint8Array>();
  for (const service of services) {
    const found = await reflect(client, { fileContainingSymbol: service }, deadline);
    if (found.error || found.fileDescriptors.length === 0) {
      throw new PluginRefusal(`reflection has no file descriptor for ${service}: ${found.error?.message ?? "empty answer"}`);
    }
    for (const file of found.fileDescriptors) byName.set(fileDescriptorName(file), file);
  }
  return { descriptors: [...byName.values()] };
}
