// Identity the kernel vouches for. The gateway authenticates the caller, strips every incoming
// x-ol-* header, and adds these three, signed with the target plugin's credential. A plugin accepts
// a caller only when the signature verifies, so a client cannot forge an identity by sending the
// headers itself, and a call that bypasses the kernel carries no identity at all.
import { createHmac, timingSafeEqual } from "node:crypto";

export const IDENTITY_HEADERS = {
  /** The verified caller: a lower-case 0x EVM address, or "" for an anonymous call to a public method. */
  caller: "x-ol-caller",
  /** How the caller authenticated: "apikey", "siwe", "kernel" (the kernel itself) or "none". */
  authMethod: "x-ol-auth-method",
  /** Unix time in milliseconds when the kernel signed. */
  timestamp: "x-ol-caller-ts",
  /** hex HMAC-SHA256(credential, caller + "\n" + authMethod + "\n" + method + "\n" + timestamp). */
  signature: "x-ol-caller-sig",
} as const;

/** Every header with this prefix is reserved for the kernel and stripped from client calls. */
export const RESERVED_HEADER_PREFIX = "x-ol-";

/** Signatures older (or further in the future) than this are refused. */
export const MAX_IDENTITY_SKEW_MS = 5 * 60 * 1000;

export interface Identity {
  /** Lower-case 0x address; "" when anonymous. */
  address: string;
  authMethod: "apikey" | "siwe" | "kernel" | "none";
}

function mac(credential: Buffer, identity: Identity, method: string, timestamp: string): string {
  return createHmac("sha256", credential)
    .update(`${identity.address}\n${identity.authMethod}\n${method}\n${timestamp}`)
    .digest("hex");
}

/** The headers the kernel adds to a call to `method` ("/pkg.Service/Method") for `identity`. */
export function signIdentity(
  credential: Buffer,
  identity: Identity,
  method: string,
  now: number = Date.now(),
): Record<string, string> {
  const timestamp = String(now);
  return {
    [IDENTITY_HEADERS.caller]: identity.address,
    [IDENTITY_HEADERS.authMethod]: identity.authMethod,
    [IDENTITY_HEADERS.timestamp]: timestamp,
    [IDENTITY_HEADERS.signature]: mac(credential, identity, method, timestamp),
  };
}

/**
 * Verifies identity headers on a call to `method`. Returns the identity, or null when the headers
 * are missing, malformed, stale or not signed with `credential`.
 */
export function verifyIdentity(
  credential: Buffer,
  headers: (name: string) => string | undefined,
  method: string,
  now: number = Date.now(),
): Identity | null {
  const address = headers(IDENTITY_HEADERS.caller);
  const authMethod = headers(IDENTITY_HEADERS.authMethod);
  const timestamp = headers(IDENTITY_HEADERS.timestamp);
  const signature = headers(IDENTITY_HEADERS.signature);
  if (address === undefined || authMethod === undefined || !timestamp || !signature) return null;
  if (!["apikey", "siwe", "kernel", "none"].includes(authMethod)) return null;
  if (address !== "" && !/^0x[0-9a-f]{40}$/.test(address)) return null;
  const ts = Number(timestamp);
  if (!Number.isFinite(ts) || Math.abs(now - ts) > MAX_IDENTITY_SKEW_MS) return null;
  const identity: Identity = { address, authMethod: authMethod as Identity["authMethod"] };
  const expected = Buffer.from(mac(credential, identity, method, timestamp), "hex");
  const given = Buffer.from(signature, "hex");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  return identity;
}
