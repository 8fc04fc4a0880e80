// plugin.json: what a plugin directory promises. Validated with ajv; every error names the key.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import { schemaProblem } from "../config/schema-errors";

export const MANIFEST_FILE = "plugin.json";

export interface PluginManifest {
  /** Unique plugin name: lower-case letters, digits and dashes. */
  name: string;
  version: string;
  /** Plugin protocol versions the plugin speaks; the kernel must share at least one. */
  protocolVersions: number[];
  /** argv; a first element containing "/" is a path relative to the plugin directory, else looked up on PATH. */
  command: string[];
  /** Fully qualified gRPC service names the plugin serves. */
  services: string[];
  /** Services (of other plugins or the kernel) the plugin calls through the kernel. */
  requires: string[];
  /** Method paths ("/pkg.Service/Method") of its own services callable without authentication. */
  publicMethods: string[];
  /** JSON schema of the plugin's config section. */
  configSchema: Record<string, unknown>;
  /** Hex SHA-256 the host checks before each start, of `sha256File` (default: the command's first element). */
  sha256?: string;
  /** File (relative to the plugin directory) `sha256` covers, e.g. "dist/main.js" for `node dist/main.js`. */
  sha256File?: string;
}

const SERVICE_NAME = "^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)+$";

const manifestSchema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "version", "protocolVersions", "command", "services"],
  properties: {
    name: { type: "string", pattern: "^[a-z][a-z0-9-]{0,62}$" },
    version: { type: "string", minLength: 1 },
    protocolVersions: { type: "array", minItems: 1, items: { type: "integer", minimum: 1 } },
    command: { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
    services: { type: "array", minItems: 1, items: { type: "string", pattern: SERVICE_NAME } },
    requires: { type: "array", items: { type: "string", pattern: SERVICE_NAME }, default: [] },
    publicMethods: {
      type: "array",
      items: { type: "string", pattern: "^/[A-Za-z_][A-Za-z0-9_.]*/[A-Za-z_][A-Za-z0-9_]*$" },
      default: [],
    },
    configSchema: { type: "object", default: { type: "object" } },
    sha256: { type: "string", pattern: "^[0-9a-fA-F]{64}$" },
    sha256File: { type: "string", minLength: 1 },
  },
} as const;

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validateManifest = ajv.compile(manifestSchema);

/** "root.key: message" for each ajv error. */
function describeErrors(errors: ErrorObject[] | null | undefined, root: string): string {
  return (errors ?? [])
    .map((error) => {
      const problem = schemaProblem(error);
      return `${[root, ...problem.keys].join(".")}: ${problem.message}`;
    })
    .join("; ");
}

/** Validates a parsed manifest; throws an Error whose message names each bad key. */
export function parseManifest(value: unknown, source: string): PluginManifest {
  const copy = structuredClone(value);
  if (!validateManifest(copy)) {
    throw new Error(`${source}: ${describeErrors(validateManifest.errors, "manifest")}`);
  }
  const manifest = copy as unknown as PluginManifest;
  for (const method of manifest.publicMethods) {
    const service = method.split("/")[1]!;
    if (!manifest.services.includes(service)) {
      throw new Error(`${source}: manifest.publicMethods names ${method}, but ${service} is not in manifest.services`);
    }
  }
  try {
    ajv.compile(manifest.configSchema);
  } catch (err) {
    throw new Error(`${source}: manifest.configSchema is not a valid JSON schema: ${(err as Error).message}`);
  }
  return manifest;
}

/** Reads and validates `<dir>/plugin.json`. */
export function loadManifest(dir: string): PluginManifest {
  const file = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`${file}: cannot read: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not JSON: ${(err as Error).message}`);
  }
  return parseManifest(value, file);
}

const configValidators = new WeakMap<PluginManifest, ValidateFunction>();

/** Validates (and fills defaults into a copy of) a plugin's config section against its configSchema. */
export function validatePluginConfig(manifest: PluginManifest, config: unknown): unknown {
  let validate = configValidators.get(manifest);
  if (!validate) configValidators.set(manifest, (validate = ajv.compile(manifest.configSchema)));
  const copy = structuredClone(config ?? {});
  if (!validate(copy)) throw new Error(describeErrors(validate.errors, "config"));
  return copy;
}
