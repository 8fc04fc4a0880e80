// Qdrant through its REST client. Qdrant ids must be integers or UUIDs, so a point is stored under a
// UUID derived from its id, with the id and the caller's payload inside the Qdrant payload
// ({ id, payload }); filters address `payload.<key>`.
import { createHash } from "node:crypto";
import { QdrantClient } from "@qdrant/js-client-rest";
import { checkCollectionName, checkFilter, checkId, checkPoints, checkSearch, checkSpec, sameSpec } from "./validate";
import {
  VectorStoreError,
  type CollectionSpec,
  type Payload,
  type PayloadFilter,
  type SearchHit,
  type SearchOptions,
  type StoredPoint,
  type VectorMetric,
  type VectorPoint,
  type VectorStore,
} from "./types";

const DISTANCE = { cosine: "Cosine", dot: "Dot", l2: "Euclid" } as const;
const METRIC_OF: Record<string, VectorMetric> = { Cosine: "cosine", Dot: "dot", Euclid: "l2" };

interface StoredPayload {
  id: string;
  payload: Payload;
}

/** A stable UUID (v8 layout, from sha256) for a point id. */
function pointUuid(id: string): string {
  const hex = createHash("sha256").update(id).digest("hex");
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function qdrantFilter(filter: PayloadFilter | undefined) {
  const entries = Object.entries(filter ?? {});
  if (entries.length === 0) return undefined;
  return { must: entries.map(([key, value]) => ({ key: `payload.${key}`, match: { value } })) };
}

function unwrap(payload: Record<string, unknown> | null | undefined): StoredPayload {
  return payload as unknown as StoredPayload;
}

export class QdrantVectorStore implements VectorStore {
  readonly kind = "qdrant" as const;
  private readonly specs = new Map<string, CollectionSpec>();

  constructor(private readonly client: QdrantClient) {}

  static async open(url: string, apiKey?: string): Promise<QdrantVectorStore> {
    const client = new QdrantClient({ url, apiKey, checkCompatibility: false });
    await client.getCollections();
    return new QdrantVectorStore(client);
  }

  async createCollection(spec: CollectionSpec): Promise<void> {
    checkSpec(spec);
    const existing = await this.getCollection(spec.name);
    if (existing) {
      if (!sameSpec(existing, spec)) {
        throw new VectorStoreError("CONFLICT", `collection ${spec.name} exists as ${JSON.stringify(existing)}`);
      }
      return;
    }
    await this.client.createCollection(spec.name, { vectors: { size: spec.dimension, distance: DISTANCE[spec.metric] } });
  }

  async getCollection(name: string): Promise<CollectionSpec | undefined> {
    checkCollectionName(name);
    const cached = this.specs.get(name);
    if (cached) return { ...cached };
    if (!(await this.client.collectionExists(name)).exists) return undefined;
    const vectors = (await this.client.getCollection(name)).config.params.vectors as { size?: number; distance?: string };
    const metric = METRIC_OF[vectors.distance ?? ""];
    if (vectors.size === undefined || metric === undefined) {
      throw new VectorStoreError("CONFLICT", `collection ${name} uses a vector layout this store does not manage`);
    }
    const spec: CollectionSpec = { name, dimension: vectors.size, metric };
    this.specs.set(name, spec);
    return { ...spec };
  }

  async listCollections(): Promise<CollectionSpec[]> {
    const { collections } = await this.client.getCollections();
    const specs: CollectionSpec[] = [];
    for (const { name } of collections) {
      const spec = await this.getCollection(name).catch(() => undefined);
      if (spec) specs.push(spec);
    }
    return specs.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async dropCollection(name: string): Promise<boolean> {
    checkCollectionName(name);
    this.specs.delete(name);
    if (!(await this.client.collectionExists(name)).exists) return false;
    await this.client.deleteCollection(name);
    return true;
  }

  private async spec(name: string): Promise<CollectionSpec> {
    const spec = await this.getCollection(name);
    if (!spec) throw new VectorStoreError("NOT_FOUND", `no collection ${name}`);
    return spec;
  }

  async upsert(collection: string, points: readonly VectorPoint[]): Promise<void> {
    const vectors = checkPoints(await this.spec(collection), points);
    if (points.length === 0) return;
    await this.client.upsert(collection, {
      wait: true,
      points: points.map((point, i) => ({
        id: pointUuid(point.id),
        vector: Array.from(vectors[i]!),
        payload: { id: point.id, payload: point.payload ?? {} } satisfies StoredPayload,
      })),
    });
  }

  async retrieve(collection: string, ids: readonly string[]): Promise<StoredPoint[]> {
    await this.spec(collection);
    ids.forEach(checkId);
    if (ids.length === 0) return [];
    const records = await this.client.retrieve(collection, { ids: ids.map(pointUuid), with_payload: true, with_vector: true });
    const byId = new Map(
      records.map((record) => {
        const stored = unwrap(record.payload);
        return [stored.id, { id: stored.id, vector: record.vector as number[], payload: stored.payload }] as const;
      }),
    );
    return ids.flatMap((id) => {
      const point = byId.get(id);
      return point ? [point] : [];
    });
  }

  async search(collection: string, vector: readonly number[] | Float32Array, options: SearchOptions): Promise<SearchHit[]> {
    const query = checkSearch(await this.spec(collection), vector, options);
    const hits = await this.client.search(collection, {
      vector: Array.from(query),
      limit: options.limit,
      filter: qdrantFilter(options.filter),
      with_payload: true,
    });
    return hits.map((hit) => {
      const stored = unwrap(hit.payload);
      return { id: stored.id, score: hit.score, payload: stored.payload };
    });
  }

  async delete(collection: string, ids: readonly string[]): Promise<void> {
    await this.spec(collection);
    ids.forEach(checkId);
    if (ids.length === 0) return;
    await this.client.delete(collection, { wait: true, points: ids.map(pointUuid) });
  }

  async count(collection: string, filter?: PayloadFilter): Promise<number> {
    await this.spec(collection);
    checkFilter(filter);
    return (await this.client.count(collection, { filter: qdrantFilter(filter), exact: true })).count;
  }

  async close(): Promise<void> {
    this.specs.clear();
  }
}
