// Which metadata crosses the gateway. Transport headers belong to each HTTP/2 hop and are rebuilt by
// grpc-js on the next one; reserved x-ol-* headers are the kernel's to set; credentials were meant
// for the kernel, so a plugin never sees a caller's API key or session.
import { Metadata } from "@grpc/grpc-js";
import { RESERVED_HEADER_PREFIX } from "@openledger/sdk";

const TRANSPORT_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "host",
  "content-type",
  "content-length",
  "user-agent",
  "date",
]);

/** Headers that carry the caller's credential to the kernel; stripped before a call goes upstream. */
export const DEFAULT_CREDENTIAL_HEADERS: readonly string[] = ["authorization", "cookie", "x-api-key"];

function isTransportHeader(key: string): boolean {
  return key.startsWith(":") || key.startsWith("grpc-") || TRANSPORT_HEADERS.has(key);
}

/** A copy of `source` without transport headers and without the keys `drop` says to drop. */
function copyMetadata(source: Metadata, drop: (key: string) => boolean): Metadata {
  const copy = new Metadata();
  for (const [key, values] of Object.entries(source.toJSON())) {
    if (isTransportHeader(key) || drop(key)) continue;
    for (const value of values as (string | Buffer)[]) copy.add(key, value);
  }
  return copy;
}

/**
 * The client's request metadata as a plugin may see it: no transport headers, no x-ol-* header
 * (only the kernel sets those), no credential header. W3C trace context (traceparent, tracestate)
 * and every other application header pass through.
 */
export function requestMetadataForUpstream(source: Metadata, credentialHeaders: ReadonlySet<string>): Metadata {
  return copyMetadata(source, (key) => key.startsWith(RESERVED_HEADER_PREFIX) || credentialHeaders.has(key));
}

/** Response headers or trailers from a plugin, as the client may see them. */
export function responseMetadataForClient(source: Metadata): Metadata {
  return copyMetadata(source, () => false);
}

/** Metadata the in-process Invoker may send to the gateway: anything but transport headers. */
export function requestMetadataForGateway(source: Metadata): Metadata {
  return copyMetadata(source, () => false);
}
