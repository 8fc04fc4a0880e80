// The part of the object store both implementations share: validation, size bounds, hashing while
// spooling to a staging file, and the blob/named key spaces. A backend only moves finished files
// into place and reads, stats, deletes and lists storage keys.
import { createHash, randomBytes } from "node:crypto";
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { blobKey, blobKeyPrefix, hashOfBlobKey, namedKey, namedKeyPrefix, NAMED_ROOT } from "./keys";
import {
  ObjectStoreError,
  type NamedObjects,
  type ObjectData,
  type ObjectStore,
  type PutResult,
  type StoredObject,
} from "./types";

export interface StorageBackend {
  readonly kind: ObjectStore["kind"];
  /** Directory for staging files; on the same filesystem as the store when the backend renames. */
  readonly stagingDir: string;
  /**
   * Makes the complete staged file the content of `key` and consumes it. With `replace` false an
   * existing object is kept (same key means same bytes for blobs).
   */
  commit(stagedPath: string, key: string, replace: boolean): Promise<void>;
  /** undefined when the key does not exist. */
  read(key: string): Promise<Readable | undefined>;
  /** Size in bytes, or undefined when the key does not exist. */
  size(key: string): Promise<number | undefined>;
  remove(key: string): Promise<boolean>;
  /** Every key that starts with `prefix` (a plain string prefix), in lexicographic order. */
  list(prefix: string): AsyncIterable<StoredObject>;
  close(): Promise<void>;
}

interface Staged {
  path: string;
  sha256: string;
  size: number;
}

async function* chunksOf(data: ObjectData): AsyncIterable<Uint8Array> {
  if (typeof data === "string") yield Buffer.from(data, "utf8");
  else if (data instanceof Uint8Array) yield data;
  else {
    for await (const chunk of data) {
      if (!(chunk instanceof Uint8Array)) {
        throw new ObjectStoreError("INVALID_DATA", `stream chunks must be bytes, got ${typeof chunk}`);
      }
      yield chunk;
    }
  }
}

export class BackedObjectStore implements ObjectStore {
  readonly kind: ObjectStore["kind"];
  readonly named: NamedObjects;

  constructor(
    private readonly backend: StorageBackend,
    readonly maxObjectBytes: number,
  ) {
    this.kind = backend.kind;
    const listKeys = this.listKeys.bind(this);
    this.named = {
      put: async (name, data) => {
        const key = namedKey(name);
        const staged = await this.stage(data);
        await this.commit(staged, key, true);
        return { key: name, size: staged.size, sha256: staged.sha256 };
      },
      get: async (name) => this.readAll(namedKey(name), name),
      getStream: async (name) => this.open(namedKey(name), name),
      stat: async (name) => this.statKey(namedKey(name), name),
      exists: async (name) => (await this.backend.size(namedKey(name))) !== undefined,
      delete: async (name) => this.backend.remove(namedKey(name)),
      list: async function* (this: void, prefix = "") {
        yield* listKeys(namedKeyPrefix(prefix), (key) => key.slice(NAMED_ROOT.length));
      },
    };
  }

  async put(data: ObjectData): Promise<string> {
    return (await this.putStream(data)).sha256;
  }

  async putStream(data: ObjectData): Promise<PutResult> {
    const staged = await this.stage(data);
    await this.commit(staged, blobKey(staged.sha256), false);
    return { key: staged.sha256, size: staged.size, sha256: staged.sha256 };
  }

  async get(sha256: string): Promise<Buffer> {
    return this.readAll(blobKey(sha256), sha256);
  }

  async getStream(sha256: string): Promise<Readable> {
    return this.open(blobKey(sha256), sha256);
  }

  async stat(sha256: string): Promise<StoredObject | undefined> {
    return this.statKey(blobKey(sha256), sha256);
  }

  async exists(sha256: string): Promise<boolean> {
    return (await this.backend.size(blobKey(sha256))) !== undefined;
  }

  async delete(sha256: string): Promise<boolean> {
    return this.backend.remove(blobKey(sha256));
  }

  async *list(hexPrefix = ""): AsyncIterable<StoredObject> {
    yield* this.listKeys(blobKeyPrefix(hexPrefix), hashOfBlobKey);
  }

  close(): Promise<void> {
    return this.backend.close();
  }

  private async *listKeys(prefix: string, toKey: (storageKey: string) => string): AsyncIterable<StoredObject> {
    for await (const entry of this.backend.list(prefix)) yield { key: toKey(entry.key), size: entry.size };
  }

  private async statKey(key: string, label: string): Promise<StoredObject | undefined> {
    const size = await this.backend.size(key);
    return size === undefined ? undefined : { key: label, size };
  }

  private async open(key: string, label: string): Promise<Readable> {
    const stream = await this.backend.read(key);
    if (!stream) throw new ObjectStoreError("NOT_FOUND", `no object ${label}`);
    return stream;
  }

  private async readAll(key: string, label: string): Promise<Buffer> {
    return buffer(await this.open(key, label));
  }

  private async commit(staged: Staged, key: string, replace: boolean): Promise<void> {
    try {
      await this.backend.commit(staged.path, key, replace);
    } finally {
      await rm(staged.path, { force: true });
    }
  }

  /** Writes the data to a staging file, hashing and counting; refuses (and removes) oversize data. */
  private async stage(data: ObjectData): Promise<Staged> {
    const path = join(this.backend.stagingDir, `stage-${process.pid}-${randomBytes(8).toString("hex")}`);
    const hash = createHash("sha256");
    let size = 0;
    const file = await open(path, "wx");
    try {
      for await (const chunk of chunksOf(data)) {
        size += chunk.byteLength;
        if (size > this.maxObjectBytes) {
          throw new ObjectStoreError("TOO_LARGE", `object exceeds the limit of ${this.maxObjectBytes} bytes`);
        }
        hash.update(chunk);
        await file.write(chunk);
      }
      await file.sync();
      await file.close();
    } catch (err) {
      await file.close().catch(() => undefined);
      await rm(path, { force: true });
      throw err;
    }
    return { path, sha256: hash.digest("hex"), size };
  }
}
