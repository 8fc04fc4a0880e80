// The behaviour every ObjectStore implementation must have, written once. A test file calls
// describeObjectStoreContract with a factory that opens a fresh, empty store (limit: 1 MiB).
import { createHash, randomBytes } from "node:crypto";
import { ObjectStoreError, type ObjectStore, type StoredObject } from "./types";

export const CONTRACT_MAX_OBJECT_BYTES = 1024 * 1024;

function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

async function collect(items: AsyncIterable<StoredObject>): Promise<StoredObject[]> {
  const out: StoredObject[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function* chunked(total: number, chunkSize: number, seed: Buffer): AsyncIterable<Uint8Array> {
  for (let offset = 0; offset < total; offset += chunkSize) {
    const chunk = Buffer.alloc(Math.min(chunkSize, total - offset));
    for (let i = 0; i < chunk.length; i++) chunk[i] = seed[(offset + i) % seed.length]! ^ ((offset + i) >> 10);
    yield chunk;
  }
}

async function expectCode(promise: Promise<unknown>, code: ObjectStoreError["code"]): Promise<void> {
  await expect(promise).rejects.toBeInstanceOf(ObjectStoreError);
  await expect(promise).rejects.toMatchObject({ code });
}

/** `open` is called once per test and must give a store limited to CONTRACT_MAX_OBJECT_BYTES. */
export function describeObjectStoreContract(name: string, open: () => Promise<ObjectStore>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let store: ObjectStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    test("put returns the sha256; get, stat and exists find the bytes", async () => {
      const data = Buffer.from("hello, payable AI");
      const hash = await store.put(data);
      expect(hash).toBe(sha256(data));
      expect(await store.get(hash)).toEqual(data);
      expect(await store.stat(hash)).toEqual({ key: hash, size: data.length });
      expect(await store.exists(hash)).toBe(true);
      expect(await store.put("")).toBe(sha256(""));
      expect(await store.get(sha256(""))).toEqual(Buffer.alloc(0));
    });

    test("put is idempotent and a missing blob is NOT_FOUND / undefined / false", async () => {
      const first = await store.put("same bytes");
      expect(await store.put(Buffer.from("same bytes"))).toBe(first);
      expect((await collect(store.list())).map((o) => o.key)).toEqual([first]);
      const absent = sha256("never stored");
      await expectCode(store.get(absent), "NOT_FOUND");
      await expectCode(store.getStream(absent), "NOT_FOUND");
      expect(await store.stat(absent)).toBeUndefined();
      expect(await store.exists(absent)).toBe(false);
      expect(await store.delete(absent)).toBe(false);
    });

    test("delete removes a blob once", async () => {
      const hash = await store.put("to delete");
      expect(await store.delete(hash)).toBe(true);
      expect(await store.exists(hash)).toBe(false);
      expect(await store.delete(hash)).toBe(false);
      expect(await collect(store.list())).toEqual([]);
    });

    test("list by hash prefix returns matching blobs in hash order", async () => {
      const sizes = new Map<string, number>();
      for (let i = 0; i < 24; i++) sizes.set(await store.put("x".repeat(i)), i);
      const hashes = [...sizes.keys()].sort();
      expect(await collect(store.list())).toEqual(hashes.map((key) => ({ key, size: sizes.get(key) })));
      for (const prefix of [hashes[5]!.slice(0, 1), hashes[7]!.slice(0, 3), hashes[9]!.slice(0, 5), hashes[11]!]) {
        const expected = hashes.filter((h) => h.startsWith(prefix));
        expect((await collect(store.list(prefix))).map((o) => o.key)).toEqual(expected);
      }
    });

    test("streams a large blob in and out, up to exactly the size limit", async () => {
      const seed = randomBytes(4096);
      const total = CONTRACT_MAX_OBJECT_BYTES;
      const expected = createHash("sha256");
      for await (const chunk of chunked(total, 64 * 1024 + 7, seed)) expected.update(chunk);
      const result = await store.putStream(chunked(total, 64 * 1024 + 7, seed));
      expect(result).toEqual({ key: result.sha256, sha256: expected.digest("hex"), size: total });
      const readBack = createHash("sha256");
      let size = 0;
      for await (const chunk of await store.getStream(result.sha256)) {
        readBack.update(chunk as Uint8Array);
        size += (chunk as Uint8Array).byteLength;
      }
      expect(size).toBe(total);
      expect(readBack.digest("hex")).toBe(result.sha256);
    });

    test("refuses an object over the limit and leaves nothing behind", async () => {
      const seed = randomBytes(1024);
      await expectCode(store.putStream(chunked(CONTRACT_MAX_OBJECT_BYTES + 1, 100_000, seed)), "TOO_LARGE");
      await expectCode(store.named.put("big/one", chunked(CONTRACT_MAX_OBJECT_BYTES + 1, 100_000, seed)), "TOO_LARGE");
      expect(await collect(store.list())).toEqual([]);
      expect(await collect(store.named.list())).toEqual([]);
    });

    test("refuses bad hashes and names with INVALID_KEY", async () => {
      for (const bad of ["", "abc", "A".repeat(64), `${"0".repeat(63)}g`, `../${"0".repeat(61)}`]) {
        await expectCode(store.get(bad), "INVALID_KEY");
        await expectCode(store.exists(bad), "INVALID_KEY");
      }
      await expectCode(collect(store.list("xyz")), "INVALID_KEY");
      for (const bad of ["", "/a", "a/", "a//b", "../etc/passwd", "a/../b", ".hidden", "a b", "x".repeat(600)]) {
        await expectCode(store.named.put(bad, "data"), "INVALID_KEY");
        await expectCode(store.named.get(bad), "INVALID_KEY");
      }
      await expectCode(store.putStream((async function* () {
        yield "not bytes" as unknown as Uint8Array;
      })()), "INVALID_DATA");
    });

    test("named objects: put replaces, get/stat/list/delete", async () => {
      const first = await store.named.put("finetune/job-1/checkpoint", "step 1");
      expect(first).toEqual({ key: "finetune/job-1/checkpoint", size: 6, sha256: sha256("step 1") });
      await store.named.put("finetune/job-1/checkpoint", Buffer.from("step 200"));
      expect((await store.named.get("finetune/job-1/checkpoint")).toString()).toBe("step 200");
      await store.named.put("finetune/job-2/checkpoint", "other");
      await store.named.put("adapters/m1/adapter_config.json", "{}");
      expect(await store.named.stat("finetune/job-1/checkpoint")).toEqual({ key: "finetune/job-1/checkpoint", size: 8 });
      expect(await store.named.exists("finetune/job-9/checkpoint")).toBe(false);
      await expectCode(store.named.get("finetune/job-9/checkpoint"), "NOT_FOUND");
      expect((await collect(store.named.list("finetune/"))).map((o) => o.key)).toEqual([
        "finetune/job-1/checkpoint",
        "finetune/job-2/checkpoint",
      ]);
      expect((await collect(store.named.list("finetune/job-2"))).map((o) => o.key)).toEqual(["finetune/job-2/checkpoint"]);
      expect((await collect(store.named.list())).length).toBe(3);
      expect(await store.named.delete("finetune/job-1/checkpoint")).toBe(true);
      expect(await store.named.delete("finetune/job-1/checkpoint")).toBe(false);
      // Named objects and blobs are separate key spaces.
      expect(await collect(store.list())).toEqual([]);
    });

    test("concurrent puts of the same and different bytes", async () => {
      const payloads = Array.from({ length: 12 }, (_, i) => `payload ${i % 4}`);
      const hashes = await Promise.all(payloads.map((p) => store.put(p)));
      expect(hashes).toEqual(payloads.map((p) => sha256(p)));
      expect((await collect(store.list())).length).toBe(4);
    });
  });
}
