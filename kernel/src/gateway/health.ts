// The descriptor of grpc/health/v1/health.proto, so reflection describes the gateway's health
// service too (the service itself is the SDK's HealthStatusBoard, which codes its two one-field
// messages by hand and so has no descriptor).
import { create, toBinary } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { ServingStatus } from "@openledger/sdk";

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
