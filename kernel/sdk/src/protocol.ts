// The kernel <-> plugin handshake, shared by the kernel's plugin host and the SDK's plugin
// bootstrap. docs/plugin-protocol.md is the normative description for authors in other languages;
// keep the two in step.

/** Versions of the plugin protocol this build speaks. The kernel offers them; the plugin picks one. */
export const PROTOCOL_VERSIONS: readonly number[] = [1];

/**
 * The magic cookie tells a plugin binary it was started by the kernel (so a person running it by
 * hand gets a helpful message instead of a hung process). It is NOT a security feature.
 */
export const MAGIC_COOKIE_KEY = "OL_PLUGIN_MAGIC_COOKIE";
export const MAGIC_COOKIE_VALUE = "5b3d1c0e-openledger-plugin";

/** Environment variables the kernel sets when it starts a plugin. */
export const ENV = {
  cookie: MAGIC_COOKIE_KEY,
  /** Comma-separated protocol versions the kernel supports, e.g. "1". */
  protocolVersions: "OL_PLUGIN_PROTOCOL_VERSIONS",
  /** Where the plugin must serve gRPC: "unix:/abs/path.sock" (default) or "127.0.0.1:PORT". */
  listen: "OL_PLUGIN_LISTEN",
  /** The kernel's own gRPC address, for calls to other services through the gateway. */
  kernelAddress: "OL_KERNEL_ADDRESS",
  /** Base64 secret shared by kernel and plugin: verifies identity metadata, authenticates calls back. */
  credential: "OL_PLUGIN_CREDENTIAL",
  /** The plugin's name from its manifest. */
  name: "OL_PLUGIN_NAME",
  /** JSON object: the plugin's section of the kernel config, validated against its config schema. */
  config: "OL_PLUGIN_CONFIG",
  /** Directory the plugin may keep state in. */
  dataDir: "OL_PLUGIN_DATA_DIR",
  /** Comma-separated method paths the manifest declares public (callable without an identity). */
  publicMethods: "OL_PLUGIN_PUBLIC_METHODS",
} as const;

/**
 * The one line a plugin prints on stdout once it serves. Any stdout line before it is reported
 * by the kernel as stray output, not treated as an error.
 * Example: {"olplugin":1,"protocol":1,"address":"unix:/run/x/echo.sock"}
 */
export interface HandshakeLine {
  /** Always 1: the handshake line's own format version. */
  olplugin: 1;
  /** The protocol version the plugin chose from OL_PLUGIN_PROTOCOL_VERSIONS. */
  protocol: number;
  /** Where it serves (normally the OL_PLUGIN_LISTEN it was given). */
  address: string;
}

export function formatHandshake(line: HandshakeLine): string {
  return JSON.stringify(line);
}

/** Returns the handshake if `text` is one, otherwise null (the line is stray output). */
export function parseHandshake(text: string): HandshakeLine | null {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{")) return null;
  try {
    const value = JSON.parse(trimmed) as Partial<HandshakeLine>;
    if (value.olplugin !== 1 || typeof value.protocol !== "number" || typeof value.address !== "string") {
      return null;
    }
    return { olplugin: 1, protocol: value.protocol, address: value.address };
  } catch {
    return null;
  }
}
