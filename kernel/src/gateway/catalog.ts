// The union of every served service's descriptors: the kernel's own, the gateway's (health,
// reflection) and each plugin's as learned through reflection. Routing, reflection and the
// HTTP/JSON layer all read it.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type DescriptorProto,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import type { MethodCatalog, MethodDescription } from "../types";

/** Descriptors one owner (a plugin, or "kernel") contributes, and the services it serves from them. */
export interface DescriptorSource {
  owner: string;
  /** Serialized google.protobuf.FileDescriptorProto messages. */
  files: Uint8Array[];
  /** Fully qualified names of the services this owner serves. */
  services: string[];
}

/** Decodes serialized FileDescriptorProtos; undecodable entries are reported, not fatal. */
export function decodeFiles(files: Uint8Array[], onBadFile: (error: Error) => void): FileDescriptorProto[] {
  const decoded: FileDescriptorProto[] = [];
  for (const bytes of files) {
    try {
      decoded.push(fromBinary(FileDescriptorProtoSchema, bytes));
    } catch (error) {
      onBadFile(error as Error);
    }
  }
  return decoded;
}

/** The FileDescriptorProtos of a serialized FileDescriptorSet, each re-serialized. */
export function filesOfSet(set: Uint8Array): Uint8Array[] {
  return fromBinary(FileDescriptorSetSchema, set).file.map((file) => toBinary(FileDescriptorProtoSchema, file));
}

function qualify(scope: string, name: string): string {
  return scope ? `${scope}.${name}` : name;
}

export class DescriptorCatalog implements MethodCatalog {
  private readonly files = new Map<string, FileDescriptorProto>();
  private readonly encoded = new Map<string, Uint8Array>();
  /** Fully qualified symbol (message, enum, service, method, extension) -> file name. */
  private readonly symbols = new Map<string, string>();
  /** "extendee\0number" -> file name. */
  private readonly extensions = new Map<string, string>();
  private readonly methods = new Map<string, MethodDescription>();
  private readonly servicesServed: string[] = [];
  private encodedSet: Uint8Array | undefined;

  /** Earlier sources win when two define a file of the same name. */
  constructor(sources: DescriptorSource[], onBadFile: (owner: string, error: Error) => void = () => {}) {
    const owned = new Map<string, string>();
    for (const source of sources) {
      for (const service of source.services) if (!owned.has(service)) owned.set(service, source.owner);
      for (const file of decodeFiles(source.files, (error) => onBadFile(source.owner, error))) {
        if (this.files.has(file.name)) continue;
        this.files.set(file.name, file);
        this.encoded.set(file.name, toBinary(FileDescriptorProtoSchema, file));
        this.index(file, owned);
      }
    }
    this.servicesServed = [...owned.keys()].filter((service) => this.symbols.has(service)).sort();
  }

  describe(path: string): MethodDescription | undefined {
    return this.methods.get(path);
  }

  list(): MethodDescription[] {
    return [...this.methods.values()];
  }

  /** Fully qualified names of the services served, whose descriptors are known. */
  services(): string[] {
    return this.servicesServed;
  }

  /** Every file, dependencies before their dependents. Computed once: a catalog never changes. */
  fileDescriptorSet(): Uint8Array {
    if (this.encodedSet === undefined) {
      const ordered = this.withDependencies([...this.files.keys()]).map((name) => this.files.get(name)!);
      this.encodedSet = toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: ordered }));
    }
    return this.encodedSet;
  }

  /** The file named `name` and every file it depends on (serialized, dependencies first); [] if unknown. */
  fileByName(name: string): Uint8Array[] {
    if (!this.files.has(name)) return [];
    return this.withDependencies([name]).map((file) => this.encoded.get(file)!);
  }

  /** The file defining `symbol` (message, enum, service, method, extension) and its dependencies. */
  fileContainingSymbol(symbol: string): Uint8Array[] {
    const file = this.symbols.get(symbol.replace(/^\./, ""));
    return file === undefined ? [] : this.fileByName(file);
  }

  fileContainingExtension(extendee: string, number: number): Uint8Array[] {
    const file = this.extensions.get(`${extendee.replace(/^\./, "")}\0${number}`);
    return file === undefined ? [] : this.fileByName(file);
  }

  /** Field numbers of the known extensions of `extendee`, or undefined when the type is unknown. */
  extensionNumbers(extendee: string): number[] | undefined {
    const type = extendee.replace(/^\./, "");
    if (!this.symbols.has(type)) return undefined;
    const numbers: number[] = [];
    for (const key of this.extensions.keys()) {
      const [name, number] = key.split("\0");
      if (name === type) numbers.push(Number(number));
    }
    return numbers.sort((a, b) => a - b);
  }

  private withDependencies(roots: string[]): string[] {
    const ordered: string[] = [];
    const seen = new Set<string>();
    const visit = (name: string): void => {
      const file = this.files.get(name);
      if (file === undefined || seen.has(name)) return;
      seen.add(name);
      for (const dependency of file.dependency) visit(dependency);
      ordered.push(name);
    };
    roots.forEach(visit);
    return ordered;
  }

  private index(file: FileDescriptorProto, owned: Map<string, string>): void {
    const pkg = file.package;
    const addMessage = (message: DescriptorProto, scope: string): void => {
      const name = qualify(scope, message.name);
      this.symbols.set(name, file.name);
      for (const nested of message.nestedType) addMessage(nested, name);
      for (const nested of message.enumType) this.symbols.set(qualify(name, nested.name), file.name);
      for (const extension of message.extension) this.addExtension(file.name, name, extension.name, extension.extendee, extension.number);
    };
    for (const message of file.messageType) addMessage(message, pkg);
    for (const enumType of file.enumType) this.symbols.set(qualify(pkg, enumType.name), file.name);
    for (const extension of file.extension) this.addExtension(file.name, pkg, extension.name, extension.extendee, extension.number);
    for (const service of file.service) {
      const serviceName = qualify(pkg, service.name);
      if (!this.symbols.has(serviceName)) this.symbols.set(serviceName, file.name);
      const owner = owned.get(serviceName);
      for (const method of service.method) {
        this.symbols.set(`${serviceName}.${method.name}`, file.name);
        if (owner === undefined) continue;
        const path = `/${serviceName}/${method.name}`;
        this.methods.set(path, {
          path,
          service: serviceName,
          plugin: owner,
          requestType: method.inputType.replace(/^\./, ""),
          responseType: method.outputType.replace(/^\./, ""),
          clientStreaming: method.clientStreaming,
          serverStreaming: method.serverStreaming,
        });
      }
    }
  }

  private addExtension(file: string, scope: string, name: string, extendee: string, number: number): void {
    this.symbols.set(qualify(scope, name), file);
    this.extensions.set(`${extendee.replace(/^\./, "")}\0${number}`, file);
  }
}
