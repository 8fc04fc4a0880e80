// Input checks both implementations apply before touching storage, so both refuse the same things
// with the same messages.
import {
  VectorStoreError,
  type CollectionSpec,
  type JsonValue,
  type PayloadFilter,
  type SearchOptions,
  type VectorPoint,
} from "./types";

const COLLECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const FILTER_KEY = /^[A-Za-z0-9_-]{1,64}$/;
const METRICS = new Set(["cosine", "dot", "l2"]);
const MAX_DIMENSION = 65536;
const MAX_SEARCH_LIMIT = 10000;
const MAX_ID_LENGTH = 256;

function invalid(message: string): never {
  throw new VectorStoreError("INVALID_ARGUMENT", message);
}

export function checkCollectionName(name: string): void {
  if (!COLLECTION_NAME.test(name)) invalid(`bad collection name ${JSON.stringify(name)}: want [A-Za-z0-9][A-Za-z0-9_-]{0,62}`);
}

export function checkSpec(spec: CollectionSpec): void {
  checkCollectionName(spec.name);
  if (!Number.isInteger(spec.dimension) || spec.dimension < 1 || spec.dimension > MAX_DIMENSION) {
    invalid(`dimension must be an integer in 1..${MAX_DIMENSION}, got ${spec.dimension}`);
  }
  if (!METRICS.has(spec.metric)) invalid(`metric must be cosine, dot or l2, got ${JSON.stringify(spec.metric)}`);
}

export function sameSpec(a: CollectionSpec, b: CollectionSpec): boolean {
  return a.name === b.name && a.dimension === b.dimension && a.metric === b.metric;
}

export function checkId(id: string): void {
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID_LENGTH) {
    invalid(`point id must be a string of 1..${MAX_ID_LENGTH} characters, got ${JSON.stringify(id)}`);
  }
}

/** Returns the vector as Float32Array after checking its length and values. */
function checkVector(spec: CollectionSpec, vector: readonly number[] | Float32Array): Float32Array {
  if (vector.length !== spec.dimension) {
    invalid(`collection ${spec.name} has dimension ${spec.dimension}, got a vector of ${vector.length}`);
  }
  const values = Float32Array.from(vector);
  let normSquared = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) invalid("vector values must be finite numbers");
    normSquared += v * v;
  }
  if (spec.metric === "cosine" && normSquared === 0) invalid("a zero vector has no direction (metric cosine)");
  return values;
}

function isJson(value: unknown, depth: number): value is JsonValue {
  if (depth > 32) return false;
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((v) => isJson(v, depth + 1));
  if (typeof value === "object") {
    return Object.getPrototypeOf(value) === Object.prototype && Object.values(value).every((v) => isJson(v, depth + 1));
  }
  return false;
}

export function checkPoints(spec: CollectionSpec, points: readonly VectorPoint[]): Float32Array[] {
  const seen = new Set<string>();
  return points.map((point) => {
    checkId(point.id);
    if (seen.has(point.id)) invalid(`point ${point.id} appears twice in one upsert`);
    seen.add(point.id);
    if (point.payload !== undefined && (!isJson(point.payload, 0) || Array.isArray(point.payload))) {
      invalid(`payload of point ${point.id} must be a JSON object`);
    }
    return checkVector(spec, point.vector);
  });
}

export function checkFilter(filter: PayloadFilter | undefined): void {
  for (const [key, value] of Object.entries(filter ?? {})) {
    if (!FILTER_KEY.test(key)) invalid(`bad filter key ${JSON.stringify(key)}: want [A-Za-z0-9_-]{1,64}`);
    const ok = typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isSafeInteger(value));
    if (!ok) invalid(`filter value for ${key} must be a string, an integer or a boolean`);
  }
}

export function checkSearch(spec: CollectionSpec, vector: readonly number[] | Float32Array, options: SearchOptions): Float32Array {
  if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > MAX_SEARCH_LIMIT) {
    invalid(`limit must be an integer in 1..${MAX_SEARCH_LIMIT}, got ${options.limit}`);
  }
  checkFilter(options.filter);
  return checkVector(spec, vector);
}
