// Loads the effective configuration: embedded defaults, then one file (openledger.yaml/.yml/.json),
// then OL_* environment overrides (OL_GATEWAY__PORT=7700 sets gateway.port; `__` separates levels,
// SNAKE_CASE matches camelCase keys). Everything is validated against the schema; an error names
// the key (and the environment variable or file it came from).
import Ajv, { type ErrorObject } from "ajv";
import { schemaProblem } from "./schema-errors";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { configSchema, type OpenLedgerConfig } from "./schema";

export const CONFIG_FILE_NAMES = ["openledger.yaml", "openledger.yml", "openledger.json"] as const;
/** Environment variable naming the config file (else the first of CONFIG_FILE_NAMES found in cwd). */
export const CONFIG_FILE_ENV = "OL_CONFIG";
const ENV_PREFIX = "OL_";

export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface LoadConfigOptions {
  /** Config file path; default: $OL_CONFIG, else openledger.{yaml,yml,json} in cwd if present. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LoadedConfig {
  config: OpenLedgerConfig;
  /** Absolute path of the file read, or null when only defaults and environment were used. */
  file: string | null;
}

type SchemaNode = {
  type?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  "x-secret"?: boolean;
};

const ajv = new Ajv({ allErrors: true, useDefaults: true, strictTypes: false });
ajv.addKeyword({ keyword: "x-secret", schemaType: "boolean" });
const validate = ajv.compile<OpenLedgerConfig>(configSchema);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function findFile(options: LoadConfigOptions, env: NodeJS.ProcessEnv, cwd: string): string | null {
  const named = options.file ?? env[CONFIG_FILE_ENV];
  if (named) {
    const file = path.resolve(cwd, named);
    if (!existsSync(file)) throw new ConfigError(`config file ${file} does not exist`);
    return file;
  }
  for (const name of CONFIG_FILE_NAMES) {
    const file = path.join(cwd, name);
    if (existsSync(file)) return file;
  }
  return null;
}

function readFile(file: string): Record<string, unknown> {
  const text = readFileSync(file, "utf8");
  let value: unknown;
  try {
    value = file.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid ${file.endsWith(".json") ? "JSON" : "YAML"}: ${(err as Error).message}`);
  }
  if (value === null || value === undefined) return {};
  if (!isRecord(value)) throw new ConfigError(`${file}: the top level must be a mapping of keys`);
  return value;
}

const normalise = (key: string) => key.replace(/_/g, "").toLowerCase();

function parseEnvValue(raw: string, node: SchemaNode | undefined, variable: string): unknown {
  const type = node?.type;
  if (type === "integer" || type === "number") {
    const value = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(value)) throw new ConfigError(`${variable}: "${raw}" is not a number`);
    return value;
  }
  if (type === "boolean") {
    if (/^(true|1|yes|on)$/i.test(raw)) return true;
    if (/^(false|0|no|off)$/i.test(raw)) return false;
    throw new ConfigError(`${variable}: "${raw}" is not a boolean (true/false)`);
  }
  if (type === "array") {
    if (raw.trim().startsWith("[")) return JSON.parse(raw) as unknown;
    return raw.split(",").map((part) => part.trim()).filter((part) => part !== "");
  }
  if (type === "object") {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      throw new ConfigError(`${variable}: expected a JSON object`);
    }
  }
  return raw;
}

/**
 * Applies OL_A__B__C variables to `target`. Only variables whose first segment names a top-level
 * key are considered (other OL_* variables, such as the plugin handshake ones, are not config);
 * an unknown nested key is an error. Returns which variable set which dotted key.
 */
function applyEnv(target: Record<string, unknown>, env: NodeJS.ProcessEnv): Map<string, string> {
  const sources = new Map<string, string>();
  const root = configSchema as unknown as SchemaNode;
  for (const [variable, raw] of Object.entries(env)) {
    if (!variable.startsWith(ENV_PREFIX) || variable === CONFIG_FILE_ENV || raw === undefined) continue;
    const segments = variable.slice(ENV_PREFIX.length).split("__");
    const topKey = Object.keys(root.properties ?? {}).find((key) => normalise(key) === normalise(segments[0]));
    if (!topKey) continue;
    let node: SchemaNode | undefined = root;
    let object = target;
    const keys: string[] = [];
    segments.forEach((segment, index) => {
      const known = Object.keys(node?.properties ?? {}).find((key) => normalise(key) === normalise(segment));
      const free = node?.additionalProperties;
      if (!known && !isRecord(free)) {
        const at = keys.length ? keys.join(".") : "the top level";
        throw new ConfigError(`${variable}: ${at} has no key "${segment}"`);
      }
      const key = known ?? segment;
      keys.push(key);
      node = known ? node?.properties?.[known] : (free as SchemaNode);
      if (index === segments.length - 1) {
        object[key] = parseEnvValue(raw, node, variable);
      } else {
        if (!isRecord(object[key])) object[key] = {};
        object = object[key] as Record<string, unknown>;
      }
    });
    sources.set(keys.join("."), variable);
  }
  return sources;
}

function describeError(error: ErrorObject, sources: Map<string, string>, file: string | null): string {
  const problem = schemaProblem(error);
  const key = problem.keys.join(".") || "(top level)";
  const source = sources.get(key) ?? (file ? path.basename(file) : "defaults");
  return `${key} (from ${source}): ${problem.message}`;
}

/** Reads, merges and validates the configuration; relative paths become absolute. */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = findFile(options, env, cwd);
  const raw = file ? readFile(file) : {};
  const sources = applyEnv(raw, env);
  if (!validate(raw)) {
    const errors = (validate.errors ?? []).filter((error) => error.keyword !== "if");
    throw new ConfigError(`invalid configuration:\n  ${errors.map((e) => describeError(e, sources, file)).join("\n  ")}`);
  }
  const config = raw as OpenLedgerConfig;
  const base = file ? path.dirname(file) : cwd;
  config.dataDir = path.resolve(base, config.dataDir);
  config.plugins.dirs = config.plugins.dirs.map((dir) => path.resolve(base, dir));
  config.auth.admins = config.auth.admins.map((admin) => admin.toLowerCase());
  for (const section of [config.objects, config.vectors, config.database]) {
    if (section.dir) section.dir = path.resolve(base, section.dir);
  }
  return { config, file };
}

/** A copy of `config` with every `x-secret` value that is set replaced by "********". */
export function maskSecrets(config: OpenLedgerConfig): Record<string, unknown> {
  const mask = (value: unknown, node: SchemaNode | undefined): unknown => {
    if (node?.["x-secret"] && typeof value === "string" && value !== "") return "********";
    if (isRecord(value)) {
      return Object.fromEntries(
        Object.entries(value).map(([key, child]) => {
          const free = node?.additionalProperties;
          return [key, mask(child, node?.properties?.[key] ?? (isRecord(free) ? (free as SchemaNode) : undefined))];
        }),
      );
    }
    return value;
  };
  return mask(structuredClone(config), configSchema as unknown as SchemaNode) as Record<string, unknown>;
}
