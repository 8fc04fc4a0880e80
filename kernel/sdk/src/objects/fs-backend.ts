// Filesystem backend: storage keys are paths under `dir`; writes are atomic (the staged file is
// fsynced in dir/tmp, then renamed into place), so readers never see a partial object.
import { createReadStream } from "node:fs";
import { mkdir, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import type { StorageBackend } from "./store";
import { ObjectStoreError, type StoredObject } from "./types";

/** Staging files older than this are left over from a crash and are removed at open. */
const STALE_STAGING_MS = 60 * 60 * 1000;

function isErrno(err: unknown, ...codes: string[]): boolean {
  // Duck-typed: errors from node:fs may come from another realm (e.g. under jest), failing instanceof.
  return typeof err === "object" && err !== null && codes.includes(String((err as { code?: unknown }).code));
}

export class FsBackend implements StorageBackend {
  readonly kind = "fs" as const;
  readonly stagingDir: string;

  private constructor(private readonly root: string) {
    this.stagingDir = join(root, "tmp");
  }

  static async open(dir: string): Promise<FsBackend> {
    const backend = new FsBackend(dir);
    await mkdir(backend.stagingDir, { recursive: true });
    for (const name of await readdir(backend.stagingDir)) {
      const path = join(backend.stagingDir, name);
      const info = await stat(path).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > STALE_STAGING_MS) await rm(path, { force: true });
    }
    return backend;
  }

  async commit(stagedPath: string, key: string, replace: boolean): Promise<void> {
    const target = join(this.root, key);
    if (!replace && (await this.size(key)) !== undefined) return;
    try {
      await mkdir(dirname(target), { recursive: true });
      await rename(stagedPath, target);
    } catch (err) {
      if (isErrno(err, "ENOTDIR", "EISDIR", "EEXIST")) {
        throw new ObjectStoreError("INVALID_KEY", `${key} collides with an existing object or folder of objects`);
      }
      throw err;
    }
  }

  async read(key: string): Promise<Readable | undefined> {
    const path = join(this.root, key);
    // Open first so a missing object is reported before the caller starts consuming.
    const stream = createReadStream(path);
    return new Promise((resolve, reject) => {
      stream.once("open", () => resolve(stream));
      stream.once("error", (err) => (isErrno(err, "ENOENT", "EISDIR", "ENOTDIR") ? resolve(undefined) : reject(err)));
    });
  }

  async size(key: string): Promise<number | undefined> {
    try {
      const info = await stat(join(this.root, key));
      return info.isFile() ? info.size : undefined;
    } catch (err) {
      if (isErrno(err, "ENOENT", "ENOTDIR")) return undefined;
      throw err;
    }
  }

  async remove(key: string): Promise<boolean> {
    try {
      await unlink(join(this.root, key));
      return true;
    } catch (err) {
      if (isErrno(err, "ENOENT", "ENOTDIR", "EISDIR")) return false;
      throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    // Walk from the deepest folder the prefix names; prune folders that cannot match.
    const start = prefix.slice(0, prefix.lastIndexOf("/") + 1);
    yield* this.walk(start, prefix);
  }

  private async *walk(folderKey: string, prefix: string): AsyncIterable<StoredObject> {
    let entries;
    try {
      entries = await readdir(join(this.root, folderKey), { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, "ENOENT", "ENOTDIR")) return;
      throw err;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const key = folderKey + entry.name;
      if (entry.isDirectory()) {
        const folder = `${key}/`;
        if (folder.startsWith(prefix) || prefix.startsWith(folder)) yield* this.walk(folder, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        const size = await this.size(key);
        if (size !== undefined) yield { key, size };
      }
    }
  }

  async close(): Promise<void> {}
}
