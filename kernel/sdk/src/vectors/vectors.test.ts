// The vector store contract against the embedded store, and against Qdrant when QDRANT_URL is set.
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeVectorStoreContract } from "./contract";
import { createVectorStore, VectorStoreError, type VectorStore } from "./index";

let root: string;
const dirs = new Map<VectorStore, string>();
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "ol-vectors-test-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function openEmbedded(dir: string): Promise<VectorStore> {
  const store = await createVectorStore({ kind: "embedded", dir });
  dirs.set(store, dir);
  return store;
}

describeVectorStoreContract("embedded", {
  open: async () => openEmbedded(await mkdtemp(join(root, "store-"))),
  async reopen(previous) {
    await previous.close();
    return openEmbedded(dirs.get(previous)!);
  },
});

const qdrantUrl = process.env.QDRANT_URL;
if (qdrantUrl) {
  describeVectorStoreContract("qdrant", {
    open: () => createVectorStore({ kind: "qdrant", url: qdrantUrl, apiKey: process.env.QDRANT_API_KEY }),
    async reopen(previous) {
      await previous.close();
      return createVectorStore({ kind: "qdrant", url: qdrantUrl, apiKey: process.env.QDRANT_API_KEY });
    },
  });
} else {
  describe.skip("VectorStore contract: qdrant — SKIPPED: set QDRANT_URL to run it against a Qdrant server", () => {
    test("contract", () => undefined);
  });
}

describe("embedded store files", () => {
  const spec = { name: "chunks", dimension: 2, metric: "l2" as const };

  test("close writes an index snapshot that the next open loads; a damaged snapshot is rebuilt", async () => {
    const dir = await mkdtemp(join(root, "snap-"));
    const store = await openEmbedded(dir);
    await store.createCollection(spec);
    await store.upsert("chunks", [
      { id: "a", vector: [0, 0] },
      { id: "b", vector: [1, 1] },
    ]);
    await store.close();
    expect((await readdir(join(dir, "chunks"))).sort()).toEqual(["collection.json", "index.json", "index.usearch", "points.log"]);
    await writeFile(join(dir, "chunks", "index.usearch"), "not an index");
    const reopened = await openEmbedded(dir);
    expect((await reopened.search("chunks", [1, 1], { limit: 1 }))[0]?.id).toBe("b");
    await reopened.close();
  });

  test("a torn last log line (crash mid-write) is dropped; a corrupt line is refused clearly", async () => {
    const dir = await mkdtemp(join(root, "torn-"));
    const store = await openEmbedded(dir);
    await store.createCollection(spec);
    await store.upsert("chunks", [{ id: "a", vector: [0, 0] }]);
    await (store as VectorStore & { flush(): Promise<void> }).flush();
    await appendFile(join(dir, "chunks", "points.log"), '{"op":"upsert","points":[{"id":"b"');
    const reopened = await openEmbedded(dir);
    expect(await reopened.count("chunks")).toBe(1);
    await reopened.close();
    expect((await readFile(join(dir, "chunks", "points.log"), "utf8")).endsWith("\n")).toBe(true);

    await appendFile(join(dir, "chunks", "points.log"), '{"op":"upsert","points":[{"id":"c","key":"9","vector":"AAAA","payload":{}}]}\n');
    const failure = openEmbedded(dir);
    await expect(failure).rejects.toBeInstanceOf(VectorStoreError);
    await expect(failure).rejects.toMatchObject({ code: "CORRUPT", message: expect.stringMatching(/points.log line 2: vector of 3 bytes/) });
  });

  test("a log full of superseded records is compacted on close and keeps every live point", async () => {
    const dir = await mkdtemp(join(root, "compact-"));
    const store = await openEmbedded(dir);
    await store.createCollection(spec);
    for (let round = 0; round < 80; round++) {
      await store.upsert("chunks", [
        { id: "x", vector: [round, 0], payload: { round } },
        { id: `y${round % 4}`, vector: [0, round] },
      ]);
    }
    await store.close();
    const lines = (await readFile(join(dir, "chunks", "points.log"), "utf8")).trim().split("\n");
    expect(lines.length).toBe(1);
    const reopened = await openEmbedded(dir);
    expect(await reopened.count("chunks")).toBe(5);
    expect(await reopened.retrieve("chunks", ["x"])).toEqual([{ id: "x", vector: [79, 0], payload: { round: 79 } }]);
    await reopened.close();
  });
});
