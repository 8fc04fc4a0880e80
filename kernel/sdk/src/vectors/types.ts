// The vector store: collections of (id, vector, JSON payload) searched by similarity. Used for RAG
// chunks and attribution sketches. Embedded (usearch + files) by default, Qdrant at scale.

/** cosine: cosine similarity; dot: inner product; l2: Euclidean distance. */
export type VectorMetric = "cosine" | "dot" | "l2";

export interface CollectionSpec {
  /** [A-Za-z0-9][A-Za-z0-9_-]{0,62} */
  name: string;
  dimension: number;
  metric: VectorMetric;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type Payload = { [key: string]: JsonValue };

export interface VectorPoint {
  /** Any non-empty string up to 256 characters. */
  id: string;
  vector: readonly number[] | Float32Array;
  payload?: Payload;
}

export interface StoredPoint {
  id: string;
  vector: number[];
  payload: Payload;
}

/** Top-level payload fields that must equal the given values (strings, integers, booleans). */
export type PayloadFilter = { [key: string]: string | number | boolean };

export interface SearchOptions {
  limit: number;
  filter?: PayloadFilter;
}

export interface SearchHit {
  id: string;
  /**
   * cosine: similarity in [-1, 1]; dot: inner product (both higher = closer); l2: distance
   * (lower = closer). Hits are always ordered closest first.
   */
  score: number;
  payload: Payload;
}

export interface VectorStore {
  readonly kind: "embedded" | "qdrant";
  /** Creates the collection; a no-op when it exists with the same spec, CONFLICT otherwise. */
  createCollection(spec: CollectionSpec): Promise<void>;
  getCollection(name: string): Promise<CollectionSpec | undefined>;
  listCollections(): Promise<CollectionSpec[]>;
  /** Resolves true when the collection existed. */
  dropCollection(name: string): Promise<boolean>;
  /** Inserts or replaces points by id. */
  upsert(collection: string, points: readonly VectorPoint[]): Promise<void>;
  /** The points with these ids that exist, in the order asked. */
  retrieve(collection: string, ids: readonly string[]): Promise<StoredPoint[]>;
  search(collection: string, vector: readonly number[] | Float32Array, options: SearchOptions): Promise<SearchHit[]>;
  /** Deletes the points with these ids; absent ids are ignored. */
  delete(collection: string, ids: readonly string[]): Promise<void>;
  count(collection: string, filter?: PayloadFilter): Promise<number>;
  close(): Promise<void>;
}

export type VectorStoreErrorCode = "NOT_FOUND" | "INVALID_ARGUMENT" | "CONFLICT" | "CORRUPT";

/** Every refusal of the vector store; `code` maps to a gRPC status. */
export class VectorStoreError extends Error {
  constructor(
    readonly code: VectorStoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "VectorStoreError";
  }
}

export interface EmbeddedVectorStoreConfig {
  kind: "embedded";
  dir: string;
}

export interface QdrantVectorStoreConfig {
  kind: "qdrant";
  url: string;
  apiKey?: string;
}

export type VectorStoreConfig = EmbeddedVectorStoreConfig | QdrantVectorStoreConfig;
