import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ConfigError, loadConfig, maskSecrets } from "./index";

describe("config", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "ol-config-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("embedded defaults when there is no file and no environment", () => {
    const { config, file } = loadConfig({ cwd: dir, env: {} });
    expect(file).toBeNull();
    expect(config.dataDir).toBe(path.join(dir, ".data"));
    expect(config.gateway.port).toBe(7600);
    expect(config.gateway.maxMessageBytes).toBe(16 * 1024 * 1024);
    expect(config.temporal.address).toBe("");
    expect(config.chain.rpcUrl).toBe("");
    expect(config.objects.kind).toBe("fs");
    expect(config.vectors.kind).toBe("embedded");
    expect(config.database.kind).toBe("pglite");
    expect(config.plugins.dirs).toEqual([path.join(dir, "plugins"), path.join(dir, "plugins/examples")]);
  });

  test("reads openledger.yaml from cwd; paths are relative to the file", () => {
    writeFileSync(path.join(dir, "openledger.yaml"), "dataDir: state\ngateway:\n  port: 9000\n");
    const { config, file } = loadConfig({ cwd: dir, env: {} });
    expect(file).toBe(path.join(dir, "openledger.yaml"));
    expect(config.dataDir).toBe(path.join(dir, "state"));
    expect(config.gateway.port).toBe(9000);
    expect(config.gateway.host).toBe("127.0.0.1");
  });

  test("environment overrides the file, SNAKE_CASE maps to camelCase", () => {
    writeFileSync(path.join(dir, "openledger.json"), JSON.stringify({ gateway: { port: 9000 } }));
    const { config } = loadConfig({
      cwd: dir,
      env: {
        OL_GATEWAY__PORT: "9100",
        OL_CHAIN__RPC_URL: "http://10.0.0.1:8545",
        OL_METRICS__ENABLED: "false",
        OL_HTTP__CORS_ORIGINS: "http://a.example,http://b.example",
        OL_DATA_DIR: "/var/lib/ol",
        OL_PLUGIN_NAME: "not config: ignored",
      },
    });
    expect(config.gateway.port).toBe(9100);
    expect(config.chain.rpcUrl).toBe("http://10.0.0.1:8545");
    expect(config.metrics.enabled).toBe(false);
    expect(config.http.corsOrigins).toEqual(["http://a.example", "http://b.example"]);
    expect(config.dataDir).toBe("/var/lib/ol");
  });

  test("validation errors name the bad key and where it came from", () => {
    writeFileSync(
      path.join(dir, "openledger.yaml"),
      "gateway:\n  port: 70000\n  prot: 1\nobjects:\n  kind: s3\ndatabase:\n  kind: mysql\n",
    );
    let message = "";
    try {
      loadConfig({ cwd: dir, env: { OL_HTTP__PORT: "-1" } });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toContain("gateway.port (from openledger.yaml): must be <= 65535");
    expect(message).toContain("gateway.prot (from openledger.yaml): unknown key");
    expect(message).toContain("objects.s3 (from openledger.yaml): is required");
    expect(message).toContain("database.kind (from openledger.yaml): must be one of pglite, postgres");
    expect(message).toContain("http.port (from OL_HTTP__PORT): must be >= 0");
  });

  test("a bad environment value or unknown nested key names the variable", () => {
    expect(() => loadConfig({ cwd: dir, env: { OL_GATEWAY__PORT: "abc" } })).toThrow(/OL_GATEWAY__PORT: "abc" is not a number/);
    expect(() => loadConfig({ cwd: dir, env: { OL_GATEWAY__PROT: "1" } })).toThrow(/OL_GATEWAY__PROT: gateway has no key "PROT"/);
  });

  test("a missing named file or a broken file is a clear error", () => {
    expect(() => loadConfig({ cwd: dir, env: { OL_CONFIG: "nope.yaml" } })).toThrow(/nope.yaml does not exist/);
    writeFileSync(path.join(dir, "openledger.json"), "{ not json");
    expect(() => loadConfig({ cwd: dir, env: {} })).toThrow(/openledger.json: not valid JSON/);
  });

  test("secrets are masked, other values are not", () => {
    const { config } = loadConfig({
      cwd: dir,
      env: {
        OL_DATABASE__KIND: "postgres",
        OL_DATABASE__URL: "postgres://ol:hunter2@db:5432/ol",
        OL_OBJECTS__KIND: "s3",
        OL_OBJECTS__S3: JSON.stringify({ endPoint: "s3.local", accessKey: "AK", secretKey: "SK", bucket: "b" }),
        OL_CHAIN__PRIVATE_KEY: `0x${"ab".repeat(32)}`,
      },
    });
    const masked = maskSecrets(config);
    const text = JSON.stringify(masked);
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain('"SK"');
    expect(text).not.toContain("abab");
    expect(masked).toMatchObject({
      database: { kind: "postgres", url: "********" },
      objects: { s3: { accessKey: "AK", secretKey: "********", bucket: "b" } },
      chain: { privateKey: "********" },
      vectors: { qdrantApiKey: "" },
    });
    expect(config.database.url).toBe("postgres://ol:hunter2@db:5432/ol");
  });
});
