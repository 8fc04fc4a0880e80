// The behaviour every VectorStore implementation must have, written once. Collections get random
// names, so the suite can share one server; `reopen` closes a store and opens another on its data.
import { randomBytes } from "node:crypto";
import { VectorStoreError, type Payload, type PayloadFilter, type VectorMetric, type VectorPoint, type VectorStore } from "./types";

export interface VectorStoreContractFactory {
  open(): Promise<VectorStore>;
  reopen(previous: VectorStore): Promise<VectorStore>;
}

/** Deterministic pseudo-random vectors (xorshift), so failures reproduce. */
function randomVectors(count: number, dimension: number, seed: number): Float32Array[] {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) / 0xffffffff) * 2 - 1;
  };
  return Array.from({ length: count }, () => Float32Array.from({ length: dimension }, next));
}

// The reference the stores are checked against, written from the metrics' definitions and sharing
// no code with any store (the embedded store's own scoring must not grade itself).
function referenceScore(metric: VectorMetric, a: ArrayLike<number>, b: ArrayLike<number>): number {
  const dot = (x: ArrayLike<number>, y: ArrayLike<number>) => Array.from(x).reduce((sum, xi, i) => sum + xi * y[i]!, 0);
  if (metric === "dot") return dot(a, b);
  if (metric === "cosine") return dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
  return Math.hypot(...Array.from(a, (ai, i) => ai - b[i]!));
}

function bruteForce(metric: VectorMetric, points: VectorPoint[], query: Float32Array, limit: number, filter?: PayloadFilter) {
  const sign = metric === "l2" ? 1 : -1; // l2: smaller is closer; dot and cosine: larger is closer
  return points
    .filter((p) => Object.entries(filter ?? {}).every(([k, v]) => p.payload?.[k] === v))
    .map((p) => ({ id: p.id, score: referenceScore(metric, query, p.vector) }))
    .sort((a, b) => sign * (a.score - b.score))
    .slice(0, limit);
}

async function expectCode(promise: Promise<unknown>, code: VectorStoreError["code"]): Promise<void> {
  await expect(promise).rejects.toBeInstanceOf(VectorStoreError);
  await expect(promise).rejects.toMatchObject({ code });
}

export function describeVectorStoreContract(name: string, factory: VectorStoreContractFactory): void {
  describe(`VectorStore contract: ${name}`, () => {
    let store: VectorStore;
    let collection: string;
    beforeEach(async () => {
      store = await factory.open();
      collection = `c_${randomBytes(6).toString("hex")}`;
    });
    afterEach(async () => {
      await store.dropCollection(collection);
      await store.close();
    });

    test("collections: create is idempotent, a different spec conflicts, drop removes", async () => {
      const spec = { name: collection, dimension: 4, metric: "cosine" as const };
      expect(await store.getCollection(collection)).toBeUndefined();
      await store.createCollection(spec);
      await store.createCollection({ ...spec });
      expect(await store.getCollection(collection)).toEqual(spec);
      expect(await store.listCollections()).toContainEqual(spec);
      await expectCode(store.createCollection({ ...spec, dimension: 5 }), "CONFLICT");
      await expectCode(store.createCollection({ ...spec, metric: "l2" }), "CONFLICT");
      expect(await store.dropCollection(collection)).toBe(true);
      expect(await store.dropCollection(collection)).toBe(false);
      expect(await store.getCollection(collection)).toBeUndefined();
      await expectCode(store.count(collection), "NOT_FOUND");
      await expectCode(store.upsert(collection, [{ id: "a", vector: [1, 0, 0, 0] }]), "NOT_FOUND");
      await expectCode(store.search(collection, [1, 0, 0, 0], { limit: 1 }), "NOT_FOUND");
    });

    test("upsert inserts and replaces; retrieve and count see the latest", async () => {
      await store.createCollection({ name: collection, dimension: 3, metric: "dot" });
      await store.upsert(collection, [
        { id: "record/1", vector: [1, 2, 3], payload: { datanet: "d1", tags: ["a"], nested: { n: 1 } } },
        { id: "record/2", vector: new Float32Array([0, 1, 0]) },
      ]);
      await store.upsert(collection, [{ id: "record/1", vector: [3, 2, 1], payload: { datanet: "d2" } }]);
      expect(await store.count(collection)).toBe(2);
      expect(await store.retrieve(collection, ["record/2", "missing", "record/1"])).toEqual([
        { id: "record/2", vector: [0, 1, 0], payload: {} },
        { id: "record/1", vector: [3, 2, 1], payload: { datanet: "d2" } },
      ]);
      await store.upsert(collection, []);
      expect(await store.count(collection)).toBe(2);
    });

    test.each([
      ["cosine", [1, 0, 0], [["same", [2, 0, 0], 1], ["diagonal", [1, 1, 0], Math.SQRT1_2], ["orthogonal", [0, 3, 0], 0], ["opposite", [-1, 0, 0], -1]]],
      ["dot", [1, 2, 0], [["big", [3, 3, 0], 9], ["small", [1, 0, 0], 1], ["zero", [0, 0, 5], 0], ["negative", [0, -1, 0], -2]]],
      ["l2", [0, 0, 0], [["near", [1, 0, 0], 1], ["middle", [0, 2, 0], 2], ["far", [3, 4, 0], 5], ["farthest", [0, 0, -9], 9]]],
    ] as const)("metric %s: scores and order", async (metric, query, expected) => {
      await store.createCollection({ name: collection, dimension: 3, metric });
      const shuffled = [...expected].reverse();
      await store.upsert(collection, shuffled.map(([id, vector]) => ({ id, vector: [...vector], payload: { id } })));
      const hits = await store.search(collection, [...query], { limit: 4 });
      expect(hits.map((h) => h.id)).toEqual(expected.map(([id]) => id));
      hits.forEach((hit, i) => {
        expect(hit.score).toBeCloseTo(expected[i]![2], 4);
        expect(hit.payload).toEqual({ id: hit.id });
      });
      expect((await store.search(collection, [...query], { limit: 2 })).map((h) => h.id)).toEqual(expected.slice(0, 2).map(([id]) => id));
    });

    test("search matches brute force, with and without a payload filter; count filters", async () => {
      const dimension = 16;
      await store.createCollection({ name: collection, dimension, metric: "cosine" });
      const vectors = randomVectors(300, dimension, 7);
      const points: VectorPoint[] = vectors.map((vector, i) => ({
        id: `p${i}`,
        vector,
        payload: { group: i % 3, parity: i % 2 === 0 ? "even" : "odd", approved: i % 5 === 0, note: `#${i}` },
      }));
      for (let i = 0; i < points.length; i += 100) await store.upsert(collection, points.slice(i, i + 100));
      const [query] = randomVectors(1, dimension, 99);
      const want = bruteForce("cosine", points, query!, 10).map((h) => h.id);
      const got = (await store.search(collection, query!, { limit: 10 })).map((h) => h.id);
      // HNSW is approximate; at this size it should find at least 9 of the true 10.
      expect(got.filter((id) => want.includes(id)).length).toBeGreaterThanOrEqual(9);
      const filters: PayloadFilter[] = [{ group: 1 }, { parity: "even", approved: true }, { group: 2, parity: "odd" }];
      for (const filter of filters) {
        const exact = bruteForce("cosine", points, query!, 7, filter);
        const hits = await store.search(collection, query!, { limit: 7, filter });
        expect(hits.map((h) => h.id)).toEqual(exact.map((h) => h.id));
        hits.forEach((hit, i) => expect(hit.score).toBeCloseTo(exact[i]!.score, 4));
        for (const hit of hits) expect(hit.payload).toMatchObject(filter);
        const total = points.filter((p) => Object.entries(filter).every(([k, v]) => p.payload?.[k] === v)).length;
        expect(await store.count(collection, filter)).toBe(total);
      }
      expect(await store.search(collection, query!, { limit: 5, filter: { group: 7 } })).toEqual([]);
    });

    test("delete removes points from search, retrieve and count", async () => {
      await store.createCollection({ name: collection, dimension: 2, metric: "l2" });
      await store.upsert(collection, [
        { id: "a", vector: [0, 0] },
        { id: "b", vector: [1, 0] },
        { id: "c", vector: [2, 0] },
      ]);
      await store.delete(collection, ["a", "never-existed"]);
      expect(await store.count(collection)).toBe(2);
      expect((await store.search(collection, [0, 0], { limit: 3 })).map((h) => h.id)).toEqual(["b", "c"]);
      expect(await store.retrieve(collection, ["a"])).toEqual([]);
      await store.upsert(collection, [{ id: "a", vector: [5, 0] }]);
      expect((await store.search(collection, [0, 0], { limit: 3 })).map((h) => h.id)).toEqual(["b", "c", "a"]);
    });

    test("refuses bad input with INVALID_ARGUMENT", async () => {
      await expectCode(store.createCollection({ name: "bad name!", dimension: 3, metric: "cosine" }), "INVALID_ARGUMENT");
      await expectCode(store.createCollection({ name: collection, dimension: 0, metric: "cosine" }), "INVALID_ARGUMENT");
      await expectCode(store.createCollection({ name: collection, dimension: 3, metric: "manhattan" as VectorMetric }), "INVALID_ARGUMENT");
      await store.createCollection({ name: collection, dimension: 3, metric: "cosine" });
      const bad: VectorPoint[][] = [
        [{ id: "x", vector: [1, 2] }],
        [{ id: "x", vector: [1, Number.NaN, 0] }],
        [{ id: "x", vector: [0, 0, 0] }],
        [{ id: "", vector: [1, 0, 0] }],
        [
          { id: "x", vector: [1, 0, 0] },
          { id: "x", vector: [0, 1, 0] },
        ],
        [{ id: "x", vector: [1, 0, 0], payload: [1, 2] as unknown as Payload }],
      ];
      for (const points of bad) await expectCode(store.upsert(collection, points), "INVALID_ARGUMENT");
      expect(await store.count(collection)).toBe(0);
      await expectCode(store.search(collection, [1, 0, 0], { limit: 0 }), "INVALID_ARGUMENT");
      await expectCode(store.search(collection, [1, 0], { limit: 1 }), "INVALID_ARGUMENT");
      await expectCode(store.search(collection, [1, 0, 0], { limit: 1, filter: { score: 0.5 } }), "INVALID_ARGUMENT");
      await expectCode(store.search(collection, [1, 0, 0], { limit: 1, filter: { "a.b": 1 } }), "INVALID_ARGUMENT");
    });

    test("points and collections persist across reopening", async () => {
      await store.createCollection({ name: collection, dimension: 3, metric: "cosine" });
      await store.upsert(collection, [
        { id: "keep", vector: [1, 0, 0], payload: { v: 1 } },
        { id: "gone", vector: [0, 1, 0] },
        { id: "changed", vector: [0, 0, 1], payload: { v: 1 } },
      ]);
      await store.delete(collection, ["gone"]);
      await store.upsert(collection, [{ id: "changed", vector: [1, 1, 0], payload: { v: 2 } }]);
      store = await factory.reopen(store);
      expect(await store.getCollection(collection)).toEqual({ name: collection, dimension: 3, metric: "cosine" });
      expect(await store.count(collection)).toBe(2);
      const hits = await store.search(collection, [1, 0.1, 0], { limit: 3 });
      expect(hits.map((h) => [h.id, h.payload])).toEqual([
        ["keep", { v: 1 }],
        ["changed", { v: 2 }],
      ]);
    });
  });
}
