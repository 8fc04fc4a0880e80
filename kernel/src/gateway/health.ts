// grpc.health.v1 for every service the gateway serves. The gateway sets each service's status from
// its owner's state; Watch streams every change. The messages have one field each, so they are
// coded here directly rather than through generated code.
import type { ServerUnaryCall, ServerWritableStream, ServiceDefinition, sendUnaryData } from "@grpc/grpc-js";
import { status as Status } from "@grpc/grpc-js";
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";

export const HEALTH_SERVICE = "grpc.health.v1.Health";

export enum ServingStatus {
  UNKNOWN = 0,
  SERVING = 1,
  NOT_SERVING = 2,
  /** Only sent by Watch, for a service the server does not know (yet). */
  SERVICE_UNKNOWN = 3,
}

function decodeService(bytes: Buffer): string {
  const reader = new BinaryReader(bytes);
  let service = "";
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) service = reader.string();
    else reader.skip(wireType);
  }
  return service;
}

function encodeStatus(status: ServingStatus): Buffer {
  return Buffer.from(new BinaryWriter().tag(1, WireType.Varint).int32(status).finish());
}

const identity = (value: Buffer): Buffer => value;

const HEALTH_DEFINITION: ServiceDefinition = {
  Check: {
    path: `/${HEALTH_SERVICE}/Check`,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
  Watch: {
    path: `/${HEALTH_SERVICE}/Watch`,
    requestStream: false,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** google.protobuf.FileDescriptorProto of grpc/health/v1/health.proto, for reflection. */
export function healthFileDescriptor(): Uint8Array {
  const optional = FieldDescriptorProto_Label.OPTIONAL;
  return toBinary(
    FileDescriptorProtoSchema,
    create(FileDescriptorProtoSchema, {
      name: "grpc/health/v1/health.proto",
      package: "grpc.health.v1",
      syntax: "proto3",
      messageType: [
        {
          name: "HealthCheckRequest",
          field: [{ name: "service", number: 1, label: optional, type: FieldDescriptorProto_Type.STRING, jsonName: "service" }],
        },
        {
          name: "HealthCheckResponse",
          field: [
            {
              name: "status",
              number: 1,
              label: optional,
              type: FieldDescriptorProto_Type.ENUM,
              typeName: ".grpc.health.v1.HealthCheckResponse.ServingStatus",
              jsonName: "status",
            },
          ],
          enumType: [
            {
              name: "ServingStatus",
              value: Object.entries(ServingStatus)
                .filter(([, number]) => typeof number === "number")
                .map(([name, number]) => ({ name, number: number as number })),
            },
          ],
        },
      ],
      service: [
        {
          name: "Health",
          method: [
            { name: "Check", inputType: ".grpc.health.v1.HealthCheckRequest", outputType: ".grpc.health.v1.HealthCheckResponse" },
            {
              name: "Watch",
              inputType: ".grpc.health.v1.HealthCheckRequest",
              outputType: ".grpc.health.v1.HealthCheckResponse",
              serverStreaming: true,
            },
          ],
        },
      ],
    }),
  );
}

/** The status table and the grpc.health.v1.Health implementation that serves it. */
export class HealthService {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<(status: ServingStatus) => void>>();

  readonly definition = HEALTH_DEFINITION;

  readonly implementation = {
    Check: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void => {
      let service: string;
      try {
        service = decodeService(call.request);
      } catch {
        callback({ code: Status.INVALID_ARGUMENT, details: "malformed HealthCheckRequest" });
        return;
      }
      const status = this.statuses.get(service);
      if (status === undefined) callback({ code: Status.NOT_FOUND, details: `unknown service "${service}"` });
      else callback(null, encodeStatus(status));
    },
    Watch: (call: ServerWritableStream<Buffer, Buffer>): void => {
      let service: string;
      try {
        service = decodeService(call.request);
      } catch {
        call.emit("error", { code: Status.INVALID_ARGUMENT, details: "malformed HealthCheckRequest" });
        return;
      }
      let last: ServingStatus | undefined;
      const send = (status: ServingStatus): void => {
        if (status === last) return;
        last = status;
        call.write(encodeStatus(status));
      };
      send(this.get(service));
      const watchers = this.watchers.get(service) ?? new Set();
      this.watchers.set(service, watchers);
      watchers.add(send);
      call.on("cancelled", () => {
        watchers.delete(send);
        if (watchers.size === 0 && this.watchers.get(service) === watchers) this.watchers.delete(service);
      });
    },
  };

  /** SERVICE_UNKNOWN for a service without a status. */
  get(service: string): ServingStatus {
    return this.statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN;
  }

  set(service: string, status: ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    this.notify(service);
  }

  remove(service: string): void {
    if (this.statuses.delete(service)) this.notify(service);
  }

  services(): string[] {
    return [...this.statuses.keys()];
  }

  private notify(service: string): void {
    const status = this.get(service);
    for (const watcher of this.watchers.get(service) ?? []) watcher(status);
  }
}
