// Embedded vector store: one folder per collection under `dir`.
//  collection.json  the spec
//  points.log       append-only JSON lines, one per upsert/delete batch, fsynced: the source of truth
//  index.usearch    HNSW index snapshot (usearch), written on flush/close, with index.json naming the
//                   log length it covers and its sha256; a stale or damaged snapshot is rebuilt from
//                   the log instead of being loaded.
// Points live in memory (id -> key, vector, payload). Unfiltered searches use the HNSW index;
// filtered searches and counts scan the points exactly.
import { createHash } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { Index, MetricKind } from "usearch";
import { closestFirst, exactScore, scoreFromDistance } from "./scoring";
import { checkCollectionName, checkFilter, checkId, checkPoints, checkSearch, checkSpec, sameSpec } from "./validate";
import {
  VectorStoreError,
  type CollectionSpec,
  type Payload,
  type PayloadFilter,
  type SearchHit,
  type SearchOptions,
  type StoredPoint,
  type VectorPoint,
  type VectorStore,
} from "./types";

const USEARCH_METRIC = { cosine: MetricKind.Cos, dot: MetricKind.IP, l2: MetricKind.L2sq } as const;
/** Points per log line when the log is rewritten, to keep lines small. */
const COMPACT_BATCH = 512;

interface MemoryPoint {
  key: bigint;
  vector: Float32Array;
  payload: Payload;
}

interface LoggedPoint {
  id: string;
  key: string;
  vector: string;
  payload: Payload;
}

type LogRecord = { op: "upsert"; points: LoggedPoint[] } | { op: "delete"; ids: string[] };

interface SnapshotMeta {
  logBytes: number;
  sha256: string;
}

function encodeVector(vector: Float32Array): string {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString("base64");
}

function decodeVector(text: string, dimension: number): Float32Array {
  const bytes = Buffer.from(text, "base64");
  if (bytes.length !== dimension * 4) throw new Error(`vector of ${bytes.length} bytes, want ${dimension * 4}`);
  const vector = new Float32Array(dimension);
  Buffer.from(vector.buffer).set(bytes);
  return vector;
}

function matches(payload: Payload, filter: PayloadFilter | undefined): boolean {
  return Object.entries(filter ?? {}).every(([key, value]) => payload[key] === value);
}

async function sha256File(path: string): Promise<string> {
  return createHash("sha256").update(await readFile(path)).digest("hex");
}

async function writeAtomically(path: string, data: string): Promise<void> {
  await writeFile(`${path}.tmp`, data);
  await rename(`${path}.tmp`, path);
}

class EmbeddedCollection {
  private readonly points = new Map<string, MemoryPoint>();
  private readonly idsByKey = new Map<bigint, string>();
  private nextKey = 1n;
  private logRecords = 0;
  private logBytes = 0;
  private snapshotLogBytes = -1;
  /** Mutations run one at a time, in order, so the log and memory agree. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly spec: CollectionSpec,
    private readonly dir: string,
    private index: Index,
    private log: FileHandle,
  ) {}

  private static newIndex(spec: CollectionSpec): Index {
    return new Index(spec.dimension, USEARCH_METRIC[spec.metric]);
  }

  static async create(dir: string, spec: CollectionSpec): Promise<EmbeddedCollection> {
    await mkdir(dir, { recursive: true });
    await writeAtomically(join(dir, "collection.json"), JSON.stringify(spec));
    return new EmbeddedCollection(spec, dir, EmbeddedCollection.newIndex(spec), await open(join(dir, "points.log"), "a"));
  }

  static async open(dir: string): Promise<EmbeddedCollection> {
    let spec: CollectionSpec;
    try {
      spec = JSON.parse(await readFile(join(dir, "collection.json"), "utf8")) as CollectionSpec;
      checkSpec(spec);
    } catch (err) {
      throw new VectorStoreError("CORRUPT", `${dir}/collection.json is unreadable: ${(err as Error).message}`);
    }
    const logPath = join(dir, "points.log");
    const collection = new EmbeddedCollection(spec, dir, EmbeddedCollection.newIndex(spec), await open(logPath, "a+"));
    try {
      await collection.replay(logPath);
      await collection.loadOrRebuildIndex();
    } catch (err) {
      await collection.log.close();
      throw err;
    }
    return collection;
  }

  private async replay(logPath: string): Promise<void> {
    const bytes = await readFile(logPath);
    const complete = bytes.lastIndexOf(0x0a) + 1;
    // A batch torn by a crash was never acknowledged: drop it.
    if (complete < bytes.length) await this.log.truncate(complete);
    const lines = bytes.subarray(0, complete).toString("utf8").split("\n");
    lines.pop();
    lines.forEach((line, i) => {
      try {
        this.apply(JSON.parse(line) as LogRecord, false);
      } catch (err) {
        throw new VectorStoreError("CORRUPT", `${logPath} line ${i + 1}: ${(err as Error).message}`);
      }
    });
    this.logRecords = lines.length;
    this.logBytes = complete;
  }

  private async loadOrRebuildIndex(): Promise<void> {
    const indexPath = join(this.dir, "index.usearch");
    try {
      const meta = JSON.parse(await readFile(join(this.dir, "index.json"), "utf8")) as SnapshotMeta;
      if (meta.logBytes === this.logBytes && meta.sha256 === (await sha256File(indexPath))) {
        const loaded = EmbeddedCollection.newIndex(this.spec);
        loaded.load(indexPath);
        if (loaded.size() === this.points.size) {
          this.index = loaded;
          this.snapshotLogBytes = this.logBytes;
          return;
        }
      }
    } catch {
      // No usable snapshot: rebuild below.
    }
    this.index = EmbeddedCollection.newIndex(this.spec);
    if (this.points.size === 0) return;
    const keys = new BigUint64Array(this.points.size);
    const vectors = new Float32Array(this.points.size * this.spec.dimension);
    let i = 0;
    for (const point of this.points.values()) {
      keys[i] = point.key;
      vectors.set(point.vector, i * this.spec.dimension);
      i++;
    }
    this.index.add(keys, vectors);
  }

  /** Applies a log record to memory (and to the index when `indexed`). Validates replayed data. */
  private apply(record: LogRecord, indexed: boolean): void {
    if (record.op === "upsert") {
      for (const logged of record.points) {
        checkId(logged.id);
        const key = BigInt(logged.key);
        const vector = decodeVector(logged.vector, this.spec.dimension);
        this.remove(logged.id, indexed);
        this.points.set(logged.id, { key, vector, payload: logged.payload });
        this.idsByKey.set(key, logged.id);
        if (key >= this.nextKey) this.nextKey = key + 1n;
        if (indexed) this.index.add(key, vector);
      }
    } else if (record.op === "delete") {
      for (const id of record.ids) this.remove(id, indexed);
    } else {
      throw new Error(`unknown operation ${JSON.stringify((record as { op?: unknown }).op)}`);
    }
  }

  private remove(id: string, indexed: boolean): void {
    const existing = this.points.get(id);
    if (!existing) return;
    this.points.delete(id);
    this.idsByKey.delete(existing.key);
    if (indexed) this.index.remove(existing.key);
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async append(record: LogRecord): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    await this.log.write(line);
    await this.log.datasync();
    this.logBytes += Buffer.byteLength(line);
    this.logRecords++;
  }

  upsert(points: readonly VectorPoint[]): Promise<void> {
    const vectors = checkPoints(this.spec, points);
    return this.enqueue(async () => {
      if (points.length === 0) return;
      const record: LogRecord = {
        op: "upsert",
        points: points.map((point, i) => ({
          id: point.id,
          key: String(this.points.get(point.id)?.key ?? this.nextKey++),
          vector: encodeVector(vectors[i]!),
          payload: structuredClone(point.payload ?? {}),
        })),
      };
      await this.append(record);
      this.apply(record, true);
    });
  }

  delete(ids: readonly string[]): Promise<void> {
    ids.forEach(checkId);
    return this.enqueue(async () => {
      const present = ids.filter((id) => this.points.has(id));
      if (present.length === 0) return;
      const record: LogRecord = { op: "delete", ids: present };
      await this.append(record);
      this.apply(record, true);
    });
  }

  retrieve(ids: readonly string[]): StoredPoint[] {
    ids.forEach(checkId);
    return ids.flatMap((id) => {
      const point = this.points.get(id);
      return point ? [{ id, vector: Array.from(point.vector), payload: structuredClone(point.payload) }] : [];
    });
  }

  search(vector: readonly number[] | Float32Array, options: SearchOptions): SearchHit[] {
    const query = checkSearch(this.spec, vector, options);
    const { metric } = this.spec;
    if (options.filter && Object.keys(options.filter).length > 0) {
      const hits: SearchHit[] = [];
      for (const [id, point] of this.points) {
        if (matches(point.payload, options.filter)) hits.push({ id, score: exactScore(metric, query, point.vector), payload: point.payload });
      }
      return hits.sort(closestFirst(metric)).slice(0, options.limit).map((hit) => ({ ...hit, payload: structuredClone(hit.payload) }));
    }
    if (this.points.size === 0) return [];
    const found = this.index.search(query, Math.min(options.limit, this.points.size), 0);
    const hits: SearchHit[] = [];
    found.keys.forEach((key, i) => {
      const id = this.idsByKey.get(key);
      if (id === undefined) return;
      hits.push({ id, score: scoreFromDistance(metric, found.distances[i]!), payload: structuredClone(this.points.get(id)!.payload) });
    });
    return hits;
  }

  count(filter: PayloadFilter | undefined): number {
    checkFilter(filter);
    if (!filter) return this.points.size;
    let n = 0;
    for (const point of this.points.values()) if (matches(point.payload, filter)) n++;
    return n;
  }

  /** Rewrites a log dominated by superseded records, then snapshots the index. */
  flush(): Promise<void> {
    return this.enqueue(async () => {
      if (this.logRecords > 2 * Math.ceil(this.points.size / COMPACT_BATCH) + 64) await this.compact();
      if (this.snapshotLogBytes === this.logBytes) return;
      const indexPath = join(this.dir, "index.usearch");
      this.index.save(`${indexPath}.tmp`);
      await rename(`${indexPath}.tmp`, indexPath);
      const meta: SnapshotMeta = { logBytes: this.logBytes, sha256: await sha256File(indexPath) };
      await writeAtomically(join(this.dir, "index.json"), JSON.stringify(meta));
      this.snapshotLogBytes = this.logBytes;
    });
  }

  private async compact(): Promise<void> {
    const logPath = join(this.dir, "points.log");
    const lines: string[] = [];
    let batch: LoggedPoint[] = [];
    const emit = () => {
      if (batch.length) lines.push(`${JSON.stringify({ op: "upsert", points: batch } satisfies LogRecord)}\n`);
      batch = [];
    };
    for (const [id, point] of this.points) {
      batch.push({ id, key: String(point.key), vector: encodeVector(point.vector), payload: point.payload });
      if (batch.length === COMPACT_BATCH) emit();
    }
    emit();
    const compacted = lines.join("");
    const tmp = await open(`${logPath}.tmp`, "w");
    await tmp.write(compacted);
    await tmp.sync();
    await tmp.close();
    await rename(`${logPath}.tmp`, logPath);
    await this.log.close();
    this.log = await open(logPath, "a");
    this.logRecords = lines.length;
    this.logBytes = Buffer.byteLength(compacted);
    this.snapshotLogBytes = -1;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.log.close();
  }

  /** Waits for pending writes and releases the log, without a snapshot (the folder is going away). */
  async release(): Promise<void> {
    await this.enqueue(async () => undefined);
    await this.log.close();
  }
}

export class EmbeddedVectorStore implements VectorStore {
  readonly kind = "embedded" as const;

  private constructor(
    private readonly dir: string,
    private readonly collections: Map<string, EmbeddedCollection>,
  ) {}

  static async open(dir: string): Promise<EmbeddedVectorStore> {
    await mkdir(dir, { recursive: true });
    const collections = new Map<string, EmbeddedCollection>();
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const folder = join(dir, entry.name);
      // A folder without a spec is a collection whose creation never completed.
      if (!(await stat(join(folder, "collection.json")).catch(() => undefined))) continue;
      const collection = await EmbeddedCollection.open(folder).catch(async (err: unknown) => {
        await Promise.all([...collections.values()].map((opened) => opened.release()));
        throw err;
      });
      collections.set(collection.spec.name, collection);
    }
    return new EmbeddedVectorStore(dir, collections);
  }

  private get(name: string): EmbeddedCollection {
    checkCollectionName(name);
    const collection = this.collections.get(name);
    if (!collection) throw new VectorStoreError("NOT_FOUND", `no collection ${name}`);
    return collection;
  }

  async createCollection(spec: CollectionSpec): Promise<void> {
    checkSpec(spec);
    const existing = this.collections.get(spec.name);
    if (existing) {
      if (!sameSpec(existing.spec, spec)) {
        throw new VectorStoreError("CONFLICT", `collection ${spec.name} exists as ${JSON.stringify(existing.spec)}`);
      }
      return;
    }
    const clean: CollectionSpec = { name: spec.name, dimension: spec.dimension, metric: spec.metric };
    this.collections.set(spec.name, await EmbeddedCollection.create(join(this.dir, spec.name), clean));
  }

  async getCollection(name: string): Promise<CollectionSpec | undefined> {
    checkCollectionName(name);
    const spec = this.collections.get(name)?.spec;
    return spec && { ...spec };
  }

  async listCollections(): Promise<CollectionSpec[]> {
    return [...this.collections.values()].map((c) => ({ ...c.spec })).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async dropCollection(name: string): Promise<boolean> {
    checkCollectionName(name);
    const collection = this.collections.get(name);
    if (!collection) return false;
    this.collections.delete(name);
    await collection.release();
    await rm(join(this.dir, name), { recursive: true, force: true });
    return true;
  }

  async upsert(collection: string, points: readonly VectorPoint[]): Promise<void> {
    await this.get(collection).upsert(points);
  }

  async retrieve(collection: string, ids: readonly string[]): Promise<StoredPoint[]> {
    return this.get(collection).retrieve(ids);
  }

  async search(collection: string, vector: readonly number[] | Float32Array, options: SearchOptions): Promise<SearchHit[]> {
    return this.get(collection).search(vector, options);
  }

  async delete(collection: string, ids: readonly string[]): Promise<void> {
    await this.get(collection).delete(ids);
  }

  async count(collection: string, filter?: PayloadFilter): Promise<number> {
    return this.get(collection).count(filter);
  }

  /** Writes index snapshots so the next open loads instead of rebuilding. */
  async flush(): Promise<void> {
    await Promise.all([...this.collections.values()].map((c) => c.flush()));
  }

  async close(): Promise<void> {
    await Promise.all([...this.collections.values()].map((c) => c.close()));
    this.collections.clear();
  }
}
