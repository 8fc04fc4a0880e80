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

/** Identity headers that are well formed and fresh; their signature is still to be checked. */
interface SignedIdentity {
  identity: Identity;
  timestamp: string;
  signature: string;
}

const AUTH_METHODS: readonly string[] = ["apikey", "siwe", "kernel", "none"];

function readSignedIdentity(headers: (name: string) => string | undefined, now: number): SignedIdentity | null {
  const address = headers(IDENTITY_HEADERS.caller);
  const authMethod = headers(IDENTITY_HEADERS.authMethod);
  const timestamp = headers(IDENTITY_HEADERS.timestamp);
  const signature = headers(IDENTITY_HEADERS.signature);
  if (address === undefined || authMethod === undefined || !timestamp || !signature) return null;
  if (!AUTH_METHODS.includes(authMethod)) return null;
  if (address !== "" && !/^0x[0-9a-f]{40}$/.test(address)) return null;
  const ts = Number(timestamp);
  if (!Number.isFinite(ts) || Math.abs(now - ts) > MAX_IDENTITY_SKEW_MS) return null;
  return { identity: { address, authMethod: authMethod as Identity["authMethod"] }, timestamp, signature };
}

/** Constant-time comparison of a received hex signature with the expected HMAC. */
function signatureMatches(expected: Buffer, signature: string): boolean {
  const given = Buffer.from(signature, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
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
  const signed = readSignedIdentity(headers, now);
  if (!signed) return null;
  const expected = Buffer.from(mac(credential, signed.identity, method, signed.timestamp), "hex");
  return signatureMatches(expected, signed.signature) ? signed.identity : null;
}

/**
 * verifyIdentity for one credential, for a plugin's every call: it remembers the HMAC it computed
 * for a (method, caller, auth method, timestamp), so calls the kernel signed with the same
 * timestamp (it reuses a signature for a while, see kernel/gateway-go) cost a map lookup instead of
 * an HMAC. The received signature is still compared in constant time on every call, and the
 * timestamp checked against the clock, so a changed header or a stale one fails as before.
 */
export class IdentityVerifier {
  /** "method\ncaller\nauthMethod\ntimestamp" -> the HMAC; oldest dropped first past maxEntries. */
  private readonly expected = new Map<string, Buffer>();

  constructor(
    private readonly credential: Buffer,
    private readonly maxEntries: number = 1024,
  ) {}

  verify(headers: (name: string) => string | undefined, method: string, now: number = Date.now()): Identity | null {
    const signed = readSignedIdentity(headers, now);
    if (!signed) return null;
    const { identity, timestamp } = signed;
    const key = `${method}\n${identity.address}\n${identity.authMethod}\n${timestamp}`;
    let expected = this.expected.get(key);
    if (expected === undefined) {
      expected = Buffer.from(mac(this.credential, identity, method, timestamp), "hex");
      if (this.expected.size >= this.maxEntries) this.expected.delete(this.expected.keys().next().value!);
      this.expected.set(key, expected);
    }
    return signatureMatches(expected, signed.signature) ? identity : null;
  }

  /** How many HMACs it remembers (for tests). */
  get size(): number {
    return this.expected.size;
  }
}
