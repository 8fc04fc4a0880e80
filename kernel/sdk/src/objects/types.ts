// The object store: content-addressed blobs (datasets, adapters, checkpoints) plus a small
// namespace of caller-named, replaceable objects. Two implementations share one contract.
import type { Readable } from "node:stream";

/** Bytes to store: a buffer, a string (UTF-8) or a stream of chunks (e.g. a fs/HTTP Readable). */
export type ObjectData = Uint8Array | string | AsyncIterable<Uint8Array>;

export interface StoredObject {
  /** The sha256 (lowercase hex) for a blob; the name for a named object. */
  key: string;
  size: number;
}

export interface PutResult extends StoredObject {
  sha256: string;
}

/** Objects addressed by a key of the caller's choosing (e.g. `finetune/<job>/checkpoint`). */
export interface NamedObjects {
  /** Creates or atomically replaces the object. */
  put(name: string, data: ObjectData): Promise<PutResult>;
  get(name: string): Promise<Buffer>;
  getStream(name: string): Promise<Readable>;
  stat(name: string): Promise<StoredObject | undefined>;
  exists(name: string): Promise<boolean>;
  /** Resolves true when something was deleted. */
  delete(name: string): Promise<boolean>;
  /** Objects whose name starts with `prefix`, in lexicographic order. */
  list(prefix?: string): AsyncIterable<StoredObject>;
}

export interface ObjectStore {
  readonly kind: "fs" | "s3";
  /** Puts larger than this are refused (ObjectStoreError TOO_LARGE) and leave nothing behind. */
  readonly maxObjectBytes: number;
  /** Stores the bytes under their sha256 and returns it; storing the same bytes again is a no-op. */
  put(data: ObjectData): Promise<string>;
  /** Like put, and also reports the size. */
  putStream(data: ObjectData): Promise<PutResult>;
  get(sha256: string): Promise<Buffer>;
  getStream(sha256: string): Promise<Readable>;
  stat(sha256: string): Promise<StoredObject | undefined>;
  exists(sha256: string): Promise<boolean>;
  /** Resolves true when something was deleted. */
  delete(sha256: string): Promise<boolean>;
  /** Blobs whose hash starts with `hexPrefix`, in hash order. */
  list(hexPrefix?: string): AsyncIterable<StoredObject>;
  readonly named: NamedObjects;
  close(): Promise<void>;
}

export type ObjectStoreErrorCode = "NOT_FOUND" | "INVALID_KEY" | "TOO_LARGE" | "INVALID_DATA";

/** Every refusal of the object store; `code` maps to a gRPC status (NOT_FOUND, INVALID_ARGUMENT, ...). */
export class ObjectStoreError extends Error {
  constructor(
    readonly code: ObjectStoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ObjectStoreError";
  }
}

export const DEFAULT_MAX_OBJECT_BYTES = 4 * 1024 ** 3;

export interface FsObjectStoreConfig {
  kind: "fs";
  dir: string;
  maxObjectBytes?: number;
}

export interface S3ObjectStoreConfig {
  kind: "s3";
  endPoint: string;
  port?: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region?: string;
  /** Where uploads are spooled while their hash is computed; default the OS temp dir. */
  spoolDir?: string;
  maxObjectBytes?: number;
}

export type ObjectStoreConfig = FsObjectStoreConfig | S3ObjectStoreConfig;
