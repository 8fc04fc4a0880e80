// Validation of caller-supplied keys and their mapping to storage keys. Both backends see the same
// storage keys: `blobs/<h0h1>/<h2h3>/<sha256>` (sharded so no directory grows huge) and `named/<name>`.
import { ObjectStoreError } from "./types";

const SHA256_HEX = /^[0-9a-f]{64}$/;
const HEX_PREFIX = /^[0-9a-f]{0,64}$/;
// Segments start with a letter or digit, so ".", ".." and hidden files are impossible.
const NAME_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MAX_NAME_LENGTH = 512;

export function blobKey(sha256: string): string {
  if (!SHA256_HEX.test(sha256)) {
    throw new ObjectStoreError("INVALID_KEY", `not a sha256 (64 lowercase hex digits): ${JSON.stringify(sha256)}`);
  }
  return `blobs/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
}

/** The storage-key prefix under which all blobs whose hash starts with `hexPrefix` lie. */
export function blobKeyPrefix(hexPrefix: string): string {
  if (!HEX_PREFIX.test(hexPrefix)) {
    throw new ObjectStoreError("INVALID_KEY", `not a lowercase hex prefix: ${JSON.stringify(hexPrefix)}`);
  }
  if (hexPrefix.length <= 2) return `blobs/${hexPrefix}`;
  if (hexPrefix.length <= 4) return `blobs/${hexPrefix.slice(0, 2)}/${hexPrefix.slice(2)}`;
  return `blobs/${hexPrefix.slice(0, 2)}/${hexPrefix.slice(2, 4)}/${hexPrefix}`;
}

export function hashOfBlobKey(key: string): string {
  return key.slice(key.lastIndexOf("/") + 1);
}

export function namedKey(name: string): string {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || !name.split("/").every((s) => NAME_SEGMENT.test(s))) {
    throw new ObjectStoreError(
      "INVALID_KEY",
      `bad object name ${JSON.stringify(name)}: want 1-${MAX_NAME_LENGTH} chars, '/'-separated segments of [A-Za-z0-9._-] starting with a letter or digit`,
    );
  }
  return `named/${name}`;
}

/** A name prefix may end in a partial segment or a '/'. */
export function namedKeyPrefix(prefix: string): string {
  if (prefix === "") return "named/";
  const complete = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  namedKey(complete);
  return `named/${prefix}`;
}

export const NAMED_ROOT = "named/";
