// The object store contract against the filesystem and against a real SeaweedFS S3 server.
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSeaweedS3, type SeaweedS3 } from "../testing/seaweed";
import { CONTRACT_MAX_OBJECT_BYTES, describeObjectStoreContract } from "./contract";
import { createObjectStore } from "./index";
import type { S3ObjectStoreConfig } from "./types";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "ol-objects-test-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describeObjectStoreContract("filesystem", async () =>
  createObjectStore({ kind: "fs", dir: await mkdtemp(join(root, "fs-")), maxObjectBytes: CONTRACT_MAX_OBJECT_BYTES }),
);

describe("filesystem layout", () => {
  test("blobs are sharded by hash, staging leaves no files, data survives reopen", async () => {
    const dir = await mkdtemp(join(root, "layout-"));
    const store = await createObjectStore({ kind: "fs", dir });
    const hash = await store.put("sharded");
    await store.close();
    expect(await readdir(join(dir, "blobs", hash.slice(0, 2), hash.slice(2, 4)))).toEqual([hash]);
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
    const reopened = await createObjectStore({ kind: "fs", dir });
    expect((await reopened.get(hash)).toString()).toBe("sharded");
    await reopened.close();
  });

  test("a nonsensical size limit is refused", async () => {
    const dir = await mkdtemp(join(root, "limit-"));
    await expect(createObjectStore({ kind: "fs", dir, maxObjectBytes: 0 })).rejects.toMatchObject({ code: "INVALID_DATA" });
  });
});

describe("S3 (SeaweedFS)", () => {
  let s3: SeaweedS3;
  beforeAll(async () => {
    s3 = await startSeaweedS3();
  }, 90000);
  afterAll(async () => {
    await s3?.stop();
  });

  /** A store on the server, signing in with the given secret. */
  const s3Config = (bucket: string, secretKey: string): S3ObjectStoreConfig => ({
    kind: "s3",
    endPoint: s3.endPoint,
    port: s3.port,
    useSSL: false,
    accessKey: s3.accessKey,
    secretKey,
    bucket,
  });

  describeObjectStoreContract("s3", () =>
    createObjectStore({
      ...s3Config(`contract-${randomBytes(6).toString("hex")}`, s3.secretKey),
      spoolDir: root,
      maxObjectBytes: CONTRACT_MAX_OBJECT_BYTES,
    }),
  );

  test("wrong credentials are refused", async () => {
    await expect(createObjectStore(s3Config("denied", "wrong-secret-key"))).rejects.toThrow();
  });
});
