import { FsBackend } from "./fs-backend";
import { S3Backend } from "./s3-backend";
import { BackedObjectStore } from "./store";
import { DEFAULT_MAX_OBJECT_BYTES, ObjectStoreError, type ObjectStore, type ObjectStoreConfig } from "./types";

export * from "./types";

/** Opens the object store the configuration names (creating the folder or bucket if needed). */
export async function createObjectStore(config: ObjectStoreConfig): Promise<ObjectStore> {
  const maxObjectBytes = config.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
  if (!Number.isSafeInteger(maxObjectBytes) || maxObjectBytes <= 0) {
    throw new ObjectStoreError("INVALID_DATA", `maxObjectBytes must be a positive integer, got ${maxObjectBytes}`);
  }
  const backend = config.kind === "fs" ? await FsBackend.open(config.dir) : await S3Backend.open(config);
  return new BackedObjectStore(backend, maxObjectBytes);
}
