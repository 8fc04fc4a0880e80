// proto3 JSON <-> binary for any message the gateway knows, from the catalog's FileDescriptorSet
// (so the HTTP layer needs no generated code either). The registry is rebuilt only when the set changes.
import { createFileRegistry, fromBinary, fromJson, toBinary, toJson, type DescMessage, type FileRegistry, type JsonValue } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { MethodCatalog } from "../types";

export class JsonCodec {
  private registry: FileRegistry | undefined;
  private source: Uint8Array | undefined;

  constructor(private readonly catalog: Pick<MethodCatalog, "fileDescriptorSet">) {}

  private message(typeName: string): DescMessage {
    const set = this.catalog.fileDescriptorSet();
    if (set !== this.source || !this.registry) {
      this.registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, set));
      this.source = set;
    }
    const desc = this.registry.getMessage(typeName);
    if (!desc) throw new Error(`message type ${typeName} is not described by any registered service`);
    return desc;
  }

  /** JSON value → serialized message. Throws (with the field) on JSON that does not fit the type. */
  encode(typeName: string, json: JsonValue): Uint8Array {
    const desc = this.message(typeName);
    return toBinary(desc, fromJson(desc, json, { registry: this.registry }));
  }

  /** Serialized message → JSON value; fields at their default value are included. */
  decode(typeName: string, bytes: Uint8Array): JsonValue {
    const desc = this.message(typeName);
    return toJson(desc, fromBinary(desc, bytes), { registry: this.registry, alwaysEmitImplicit: true });
  }
}
