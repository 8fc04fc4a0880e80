// The kernel's credential store: API keys (persisted hashed in <dataDir>/auth/api-keys.json),
// SIWE nonces (in memory, single use, short-lived) and session tokens (stateless, HMAC-signed with a
// secret kept in <dataDir>/auth/session-secret, so sessions survive a kernel restart).
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";

export const API_KEY_PREFIX = "ol_";
export const SESSION_PREFIX = "ols_";
/** File in the credential directory holding the bootstrap admin API key (read by `ol`). */
export const ADMIN_KEY_FILE = "admin-api-key";

export interface ApiKeyRecord {
  /** Public part of the key: "ol_<id>_<secret>". */
  id: string;
  address: string;
  label: string;
  admin: boolean;
  /** hex sha256 of the secret part; the key itself is never stored. */
  secretSha256: string;
  createdAtMs: number;
  lastUsedAtMs: number;
  revoked: boolean;
}

export interface IssuedApiKey {
  apiKey: string;
  record: ApiKeyRecord;
}

export interface Session {
  address: string;
  expiresAtMs: number;
}

/** Why a credential was refused; the Authenticator turns it into UNAUTHENTICATED. */
export class CredentialError extends Error {
  override name = "CredentialError";
}

const ADDRESS = /^0x[0-9a-f]{40}$/;

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

function writePrivate(file: string, content: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, content, { mode: 0o600 });
  renameSync(temporary, file);
}

export class CredentialStore {
  private readonly keysFile: string;
  private readonly keys = new Map<string, ApiKeyRecord>();
  private readonly nonces = new Map<string, number>();
  private readonly sessionSecret: Buffer;
  private readonly revocationListeners = new Set<() => void>();

  /** `dir` is created 0700 when missing (normally <dataDir>/auth). */
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.keysFile = path.join(dir, "api-keys.json");
    if (existsSync(this.keysFile)) {
      const records = JSON.parse(readFileSync(this.keysFile, "utf8")) as ApiKeyRecord[];
      for (const record of records) this.keys.set(record.id, record);
    }
    const secretFile = path.join(dir, "session-secret");
    if (!existsSync(secretFile)) writePrivate(secretFile, randomBytes(32).toString("hex"));
    this.sessionSecret = Buffer.from(readFileSync(secretFile, "utf8").trim(), "hex");
  }

  private save(): void {
    writePrivate(this.keysFile, JSON.stringify([...this.keys.values()], null, 2));
  }

  createApiKey(address: string, label: string, admin: boolean, now = Date.now()): IssuedApiKey {
    const normalised = address.toLowerCase();
    if (!ADDRESS.test(normalised)) throw new CredentialError(`"${address}" is not a 0x EVM address`);
    const id = randomBytes(6).toString("hex");
    const secret = randomBytes(24).toString("base64url");
    const record: ApiKeyRecord = {
      id,
      address: normalised,
      label,
      admin,
      secretSha256: sha256(secret).toString("hex"),
      createdAtMs: now,
      lastUsedAtMs: 0,
      revoked: false,
    };
    this.keys.set(id, record);
    this.save();
    return { apiKey: `${API_KEY_PREFIX}${id}_${secret}`, record };
  }

  /** The record of a valid, unrevoked key; throws CredentialError saying why otherwise. */
  verifyApiKey(apiKey: string, now = Date.now()): ApiKeyRecord {
    const match = /^ol_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/.exec(apiKey);
    if (!match) throw new CredentialError("malformed API key");
    const record = this.keys.get(match[1]);
    const given = sha256(match[2]);
    if (!record || !timingSafeEqual(given, Buffer.from(record.secretSha256, "hex"))) {
      throw new CredentialError("unknown API key");
    }
    if (record.revoked) throw new CredentialError(`API key ${record.id} was revoked`);
    record.lastUsedAtMs = now;
    return record;
  }

  listApiKeys(address?: string): ApiKeyRecord[] {
    const wanted = address?.toLowerCase();
    return [...this.keys.values()].filter((key) => !key.revoked && (wanted === undefined || key.address === wanted));
  }

  getApiKey(id: string): ApiKeyRecord | undefined {
    return this.keys.get(id);
  }

  revokeApiKey(id: string): void {
    const record = this.keys.get(id);
    if (!record || record.revoked) throw new CredentialError(`no API key ${id}`);
    record.revoked = true;
    this.save();
    for (const listener of this.revocationListeners) listener();
  }

  /** Calls `listener` after each revocation (the gateway's data plane forgets cached credentials). Returns an unsubscribe function. */
  onRevoke(listener: () => void): () => void {
    this.revocationListeners.add(listener);
    return () => this.revocationListeners.delete(listener);
  }

  /** Whether `address` holds an admin key that is not revoked. */
  hasAdminKey(address: string): boolean {
    for (const key of this.keys.values()) if (key.admin && !key.revoked && key.address === address) return true;
    return false;
  }

  /**
   * The admin API key `ol` uses to call the kernel, kept in <dir>/admin-api-key (0600). Created at
   * the first start (bound to `address`); `created` tells the caller to print it, once.
   */
  bootstrapAdminKey(address: string): { apiKey: string; created: boolean } {
    const file = path.join(this.dir, ADMIN_KEY_FILE);
    if (existsSync(file)) {
      const apiKey = readFileSync(file, "utf8").trim();
      try {
        if (this.verifyApiKey(apiKey).admin) return { apiKey, created: false };
      } catch (err) {
        if (!(err instanceof CredentialError)) throw err;
      }
    }
    const { apiKey } = this.createApiKey(address, "bootstrap admin", true);
    writePrivate(file, `${apiKey}\n`);
    return { apiKey, created: true };
  }

  issueNonce(ttlMs: number, now = Date.now()): { nonce: string; expiresAtMs: number } {
    for (const [nonce, expires] of this.nonces) if (expires < now) this.nonces.delete(nonce);
    // SIWE nonces are alphanumeric, at least 8 characters.
    const nonce = randomBytes(16).toString("hex");
    const expiresAtMs = now + ttlMs;
    this.nonces.set(nonce, expiresAtMs);
    return { nonce, expiresAtMs };
  }

  /** Consumes a nonce: true once for each nonce issued and not expired. */
  consumeNonce(nonce: string, now = Date.now()): boolean {
    const expires = this.nonces.get(nonce);
    this.nonces.delete(nonce);
    return expires !== undefined && expires >= now;
  }

  private sign(payload: string): string {
    return createHmac("sha256", this.sessionSecret).update(payload).digest("base64url");
  }

  issueSession(address: string, ttlMs: number, now = Date.now()): { token: string; session: Session } {
    const session: Session = { address: address.toLowerCase(), expiresAtMs: now + ttlMs };
    const payload = Buffer.from(JSON.stringify({ a: session.address, e: session.expiresAtMs })).toString("base64url");
    return { token: `${SESSION_PREFIX}${payload}.${this.sign(payload)}`, session };
  }

  verifySession(token: string, now = Date.now()): Session {
    const [payload, signature] = token.slice(SESSION_PREFIX.length).split(".");
    if (!payload || !signature) throw new CredentialError("malformed session token");
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new CredentialError("session token signature does not verify");
    }
    const body = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { a: string; e: number };
    if (body.e < now) throw new CredentialError(`session expired at ${new Date(body.e).toISOString()}`);
    return { address: body.a, expiresAtMs: body.e };
  }
}
