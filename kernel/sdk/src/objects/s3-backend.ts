// S3 backend (MinIO, SeaweedFS, AWS) through the `minio` client. Uploads are spooled to a local file
// first (the key of a blob is its hash, known only at the end) and then sent with fPutObject, which
// switches to multipart for large files. Each upload is atomic on the S3 side.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { Client } from "minio";
import type { StorageBackend } from "./store";
import type { S3ObjectStoreConfig, StoredObject } from "./types";

const MISSING_CODES = new Set(["NoSuchKey", "NotFound", "NoSuchObject"]);

function isMissing(err: unknown): boolean {
  return typeof err === "object" && err !== null && MISSING_CODES.has(String((err as { code?: unknown }).code));
}

export class S3Backend implements StorageBackend {
  readonly kind = "s3" as const;

  private constructor(
    private readonly client: Client,
    private readonly bucket: string,
    readonly stagingDir: string,
  ) {}

  static async open(config: S3ObjectStoreConfig): Promise<S3Backend> {
    const client = new Client({
      endPoint: config.endPoint,
      port: config.port,
      useSSL: config.useSSL,
      accessKey: config.accessKey,
      secretKey: config.secretKey,
      region: config.region,
    });
    if (!(await client.bucketExists(config.bucket))) await client.makeBucket(config.bucket, config.region);
    const stagingDir = await mkdtemp(join(config.spoolDir ?? tmpdir(), "ol-s3-spool-"));
    return new S3Backend(client, config.bucket, stagingDir);
  }

  async commit(stagedPath: string, key: string, replace: boolean): Promise<void> {
    if (!replace && (await this.size(key)) !== undefined) return;
    await this.client.fPutObject(this.bucket, key, stagedPath);
  }

  async read(key: string): Promise<Readable | undefined> {
    try {
      return await this.client.getObject(this.bucket, key);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async size(key: string): Promise<number | undefined> {
    try {
      return (await this.client.statObject(this.bucket, key)).size;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async remove(key: string): Promise<boolean> {
    // S3 deletes are idempotent and say nothing about existence, so ask first.
    if ((await this.size(key)) === undefined) return false;
    await this.client.removeObject(this.bucket, key);
    return true;
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    for await (const item of this.client.listObjectsV2(this.bucket, prefix, true)) {
      const entry = item as { name?: string; size?: number };
      if (entry.name !== undefined) yield { key: entry.name, size: entry.size ?? 0 };
    }
  }

  async close(): Promise<void> {
    await rm(this.stagingDir, { recursive: true, force: true });
  }
}
