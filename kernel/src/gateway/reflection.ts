// grpc.reflection v1 and v1alpha (the same messages under two packages) answered from the gateway's
// DescriptorCatalog, so tools such as grpcurl and dynamic clients see every service on one port.
import path from "node:path";
import { loadPackageDefinition, status as Status } from "@grpc/grpc-js";
import type { GrpcObject, ServerDuplexStream, ServiceClientConstructor, ServiceDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, type DescriptorProto } from "@bufbuild/protobuf/wkt";
import type { DescriptorCatalog } from "./catalog";

export const REFLECTION_SERVICES = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

interface ReflectionRequest {
  host?: string;
  fileByFilename?: string;
  fileContainingSymbol?: string;
  fileContainingExtension?: { containingType?: string; extensionNumber?: number };
  allExtensionNumbersOfType?: string;
  listServices?: string;
  messageRequest?: string;
}

type ReflectionResponse = {
  validHost: string;
  originalRequest: ReflectionRequest;
} & (
  | { fileDescriptorResponse: { fileDescriptorProto: Buffer[] } }
  | { allExtensionNumbersResponse: { baseTypeName: string; extensionNumber: number[] } }
  | { listServicesResponse: { service: { name: string }[] } }
  | { errorResponse: { errorCode: number; errorMessage: string } }
);

export interface ReflectionVersion {
  definition: ServiceDefinition;
  /** Serialized FileDescriptorProtos of the reflection service itself. */
  files: Uint8Array[];
}

/** Loads the reflection protocol shipped with @grpc/reflection, for both versions. */
export function loadReflectionVersions(): ReflectionVersion[] {
  const protoRoot = path.join(path.dirname(require.resolve("@grpc/reflection/package.json")), "build/proto");
  return ["v1", "v1alpha"].map((version) => {
    const packageDefinition = loadSync(`grpc/reflection/${version}/reflection.proto`, {
      includeDirs: [protoRoot],
      longs: Number,
      enums: Number,
      defaults: false,
      oneofs: true,
    });
    const reflection = (loadPackageDefinition(packageDefinition).grpc as GrpcObject).reflection as GrpcObject;
    const client = (reflection[version] as GrpcObject).ServerReflection as ServiceClientConstructor;
    const files = packageDefinition[`grpc.reflection.${version}.ServerReflectionRequest`].fileDescriptorProtos ?? [];
    const name = `grpc/reflection/${version}/reflection.proto`;
    return { definition: client.service, files: (files as Uint8Array[]).map((file) => canonicalFile(file, name)) };
  });
}

/**
 * proto-loader (protobufjs) writes field type names relative to their scope ("ExtensionRequest");
 * descriptor consumers expect them fully qualified (".grpc.reflection.v1.ExtensionRequest").
 * Also restores the file's own name, which proto-loader replaces by one derived from the package.
 */
function canonicalFile(bytes: Uint8Array, name: string): Uint8Array {
  const file = fromBinary(FileDescriptorProtoSchema, bytes);
  const defined = new Set<string>();
  const collect = (messages: DescriptorProto[], scope: string): void => {
    for (const message of messages) {
      const qualified = `${scope}.${message.name}`;
      defined.add(qualified);
      message.enumType.forEach((e) => defined.add(`${qualified}.${e.name}`));
      collect(message.nestedType, qualified);
    }
  };
  collect(file.messageType, `.${file.package}`);
  file.enumType.forEach((e) => defined.add(`.${file.package}.${e.name}`));
  const qualify = (messages: DescriptorProto[], scope: string): void => {
    for (const message of messages) {
      const inner = `${scope}.${message.name}`;
      for (const field of message.field) {
        if (field.typeName === "" || field.typeName.startsWith(".")) continue;
        // Innermost scope first, as protoc resolves names.
        for (let candidate = inner; candidate !== ""; candidate = candidate.slice(0, candidate.lastIndexOf("."))) {
          if (defined.has(`${candidate}.${field.typeName}`)) {
            field.typeName = `${candidate}.${field.typeName}`;
            break;
          }
        }
      }
      qualify(message.nestedType, inner);
    }
  };
  qualify(file.messageType, `.${file.package}`);
  file.name = name;
  return toBinary(FileDescriptorProtoSchema, file);
}

function fileResponse(files: Uint8Array[], what: string): Partial<ReflectionResponse> {
  if (files.length === 0) return { errorResponse: { errorCode: Status.NOT_FOUND, errorMessage: `${what} not found` } };
  return { fileDescriptorResponse: { fileDescriptorProto: files.map((file) => Buffer.from(file)) } };
}

function answer(catalog: DescriptorCatalog, request: ReflectionRequest): Partial<ReflectionResponse> {
  switch (request.messageRequest) {
    case "fileByFilename":
      return fileResponse(catalog.fileByName(request.fileByFilename ?? ""), `file "${request.fileByFilename}"`);
    case "fileContainingSymbol":
      return fileResponse(catalog.fileContainingSymbol(request.fileContainingSymbol ?? ""), `symbol "${request.fileContainingSymbol}"`);
    case "fileContainingExtension": {
      const { containingType = "", extensionNumber = 0 } = request.fileContainingExtension ?? {};
      return fileResponse(catalog.fileContainingExtension(containingType, extensionNumber), `extension ${containingType}(${extensionNumber})`);
    }
    case "allExtensionNumbersOfType": {
      const type = request.allExtensionNumbersOfType ?? "";
      const numbers = catalog.extensionNumbers(type);
      if (numbers === undefined) return { errorResponse: { errorCode: Status.NOT_FOUND, errorMessage: `type "${type}" not found` } };
      return { allExtensionNumbersResponse: { baseTypeName: type, extensionNumber: numbers } };
    }
    case "listServices":
      return { listServicesResponse: { service: catalog.services().map((name) => ({ name })) } };
    default:
      return { errorResponse: { errorCode: Status.INVALID_ARGUMENT, errorMessage: "empty or unknown reflection request" } };
  }
}

/** The ServerReflectionInfo handler; `catalog` is read per request so it follows plugins. */
export function reflectionHandler(catalog: () => DescriptorCatalog) {
  return (call: ServerDuplexStream<ReflectionRequest, ReflectionResponse>): void => {
    call.on("data", (request: ReflectionRequest) => {
      call.write({ validHost: request.host ?? "", originalRequest: request, ...answer(catalog(), request) } as ReflectionResponse);
    });
    call.on("end", () => call.end());
  };
}
