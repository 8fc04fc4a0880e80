// The kernel's configuration: its TypeScript shape and the JSON schema that validates it and
// carries every default. `x-secret` marks values `ol config print` masks.

export interface ListenConfig {
  host: string;
  /** 0 = any free port (printed at start). */
  port: number;
}

export interface GatewayConfig extends ListenConfig {
  maxMessageBytes: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
}

export interface HttpConfig extends ListenConfig {
  /** Origins allowed by CORS; [] = same origin only, ["*"] = any. */
  corsOrigins: string[];
  maxBodyBytes: number;
}

export interface MetricsConfig extends ListenConfig {
  enabled: boolean;
}

export interface TelemetryConfig {
  serviceName: string;
  /** OTLP/gRPC endpoint (e.g. http://127.0.0.1:4317); "" = traces are not exported. */
  otlpEndpoint: string;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
}

export interface AuthConfig {
  /** Addresses with admin rights (may manage anyone's API keys). */
  admins: string[];
  sessionTtlSeconds: number;
  nonceTtlSeconds: number;
  /** What a SIWE message must name. */
  siweDomain: string;
  siweUri: string;
  /** 0 = the chain's id. */
  siweChainId: number;
}

export interface TemporalConfig {
  /** host:port of a Temporal frontend; "" = the kernel starts an embedded dev server. */
  address: string;
  namespace: string;
  /** Embedded only; 0 = a free port. */
  port: number;
  uiPort: number;
}

export interface ChainConfig {
  /** JSON-RPC URL of an EVM chain; "" = the kernel starts an embedded anvil. */
  rpcUrl: string;
  /** Embedded only; 0 = a free port. */
  port: number;
  chainId: number;
  /** Key the kernel deploys and settles with; "" = anvil's first dev account (embedded only). */
  privateKey: string;
}

export interface S3Config {
  endPoint: string;
  port: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
}

export interface ObjectsConfig {
  kind: "fs" | "s3";
  /** fs: "" = <dataDir>/objects. */
  dir: string;
  s3?: S3Config;
}

export interface VectorsConfig {
  kind: "embedded" | "qdrant";
  /** embedded: "" = <dataDir>/vectors. */
  dir: string;
  qdrantUrl: string;
  qdrantApiKey: string;
}

export interface DatabaseConfig {
  kind: "pglite" | "postgres";
  /** pglite: "" = <dataDir>/db. */
  dir: string;
  /** postgres: postgres://user:password@host:port/db */
  url: string;
}

export interface PluginsConfig {
  /** Directories whose subdirectories with a plugin.json are plugins. */
  dirs: string[];
  /**
   * Plugin directory names to skip. Default: echo-python, which serves the same service as echo-ts
   * (two plugins may not provide one service); swap them with ["echo-ts"].
   */
  exclude: string[];
  /** Per-plugin configuration sections, by plugin name (checked against the plugin's schema). */
  config: Record<string, Record<string, unknown>>;
  startTimeoutMs: number;
  stopGraceMs: number;
}

export interface OpenLedgerConfig {
  /** Where the kernel keeps its state (keys, Temporal and anvil state, plugin data, pid and log files). */
  dataDir: string;
  gateway: GatewayConfig;
  http: HttpConfig;
  metrics: MetricsConfig;
  telemetry: TelemetryConfig;
  auth: AuthConfig;
  temporal: TemporalConfig;
  chain: ChainConfig;
  objects: ObjectsConfig;
  vectors: VectorsConfig;
  database: DatabaseConfig;
  plugins: PluginsConfig;
}

const host = { type: "string", minLength: 1, default: "127.0.0.1" } as const;
const port = (fallback: number) => ({ type: "integer", minimum: 0, maximum: 65535, default: fallback }) as const;
const positive = (fallback: number) => ({ type: "integer", minimum: 1, default: fallback }) as const;
const text = (fallback = "") => ({ type: "string", default: fallback }) as const;
const secret = { type: "string", default: "", "x-secret": true } as const;
const address = { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" } as const;

function section(properties: Record<string, object>, extra: object = {}): object {
  return { type: "object", additionalProperties: false, default: {}, properties, ...extra };
}

export const configSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    dataDir: { type: "string", minLength: 1, default: ".data" },
    gateway: section({
      host,
      port: port(7600),
      maxMessageBytes: positive(16 * 1024 * 1024),
      keepaliveTimeMs: positive(120_000),
      keepaliveTimeoutMs: positive(20_000),
    }),
    http: section({
      host,
      port: port(7601),
      corsOrigins: { type: "array", items: { type: "string", minLength: 1 }, default: [] },
      maxBodyBytes: positive(16 * 1024 * 1024),
    }),
    metrics: section({ host, port: port(7602), enabled: { type: "boolean", default: true } }),
    telemetry: section({
      serviceName: { type: "string", minLength: 1, default: "openledger-kernel" },
      otlpEndpoint: text(),
      logLevel: { enum: ["fatal", "error", "warn", "info", "debug", "trace"], default: "info" },
    }),
    auth: section({
      admins: { type: "array", items: address, default: [] },
      sessionTtlSeconds: positive(24 * 3600),
      nonceTtlSeconds: positive(300),
      siweDomain: { type: "string", minLength: 1, default: "localhost" },
      siweUri: { type: "string", minLength: 1, default: "http://localhost" },
      siweChainId: { type: "integer", minimum: 0, default: 0 },
    }),
    temporal: section({
      address: text(),
      namespace: { type: "string", minLength: 1, default: "default" },
      port: port(0),
      uiPort: port(0),
    }),
    chain: section({
      rpcUrl: text(),
      port: port(0),
      chainId: positive(31337),
      privateKey: { ...secret, pattern: "^(0x[0-9a-fA-F]{64})?$" },
    }),
    objects: section(
      {
        kind: { enum: ["fs", "s3"], default: "fs" },
        dir: text(),
        s3: {
          type: "object",
          additionalProperties: false,
          required: ["endPoint", "accessKey", "secretKey", "bucket"],
          properties: {
            endPoint: { type: "string", minLength: 1 },
            port: port(9000),
            useSSL: { type: "boolean", default: false },
            accessKey: { type: "string", minLength: 1 },
            secretKey: { ...secret, minLength: 1 },
            bucket: { type: "string", minLength: 1 },
          },
        },
      },
      { if: { required: ["kind"], properties: { kind: { const: "s3" } } }, then: { required: ["s3"] } },
    ),
    vectors: section(
      {
        kind: { enum: ["embedded", "qdrant"], default: "embedded" },
        dir: text(),
        qdrantUrl: text(),
        qdrantApiKey: secret,
      },
      { if: { required: ["kind"], properties: { kind: { const: "qdrant" } } }, then: { properties: { qdrantUrl: { minLength: 1 } } } },
    ),
    database: section(
      {
        kind: { enum: ["pglite", "postgres"], default: "pglite" },
        dir: text(),
        url: secret,
      },
      { if: { required: ["kind"], properties: { kind: { const: "postgres" } } }, then: { properties: { url: { minLength: 1 } } } },
    ),
    plugins: section({
      dirs: { type: "array", items: { type: "string", minLength: 1 }, default: ["plugins", "plugins/examples"] },
      exclude: { type: "array", items: { type: "string", minLength: 1 }, default: ["echo-python"] },
      config: { type: "object", additionalProperties: { type: "object" }, default: {} },
      startTimeoutMs: positive(30_000),
      stopGraceMs: positive(5_000),
    }),
  },
} as const;
