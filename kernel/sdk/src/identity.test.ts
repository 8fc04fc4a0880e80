import { randomBytes } from "node:crypto";
import { IDENTITY_HEADERS, IdentityVerifier, MAX_IDENTITY_SKEW_MS, signIdentity, verifyIdentity, type Identity } from "./identity";

const CREDENTIAL = Buffer.alloc(32, 7);
const ALICE: Identity = { address: "0x00000000000000000000000000000000000a11ce", authMethod: "apikey" };
const ECHO = "/openledger.examples.v1.EchoService/Echo";
const NOW = 1_700_000_000_000;

const reader = (headers: Record<string, string>) => (name: string) => headers[name];

/** Both verifiers, the cached one checked twice (the second time from its cache). */
function verdicts(verifier: IdentityVerifier, headers: Record<string, string>, method: string, now: number): (Identity | null)[] {
  return [verifyIdentity(CREDENTIAL, reader(headers), method, now), verifier.verify(reader(headers), method, now), verifier.verify(reader(headers), method, now)];
}

test("the cached verifier accepts what verifyIdentity accepts, from one HMAC per signature", () => {
  const verifier = new IdentityVerifier(CREDENTIAL);
  const headers = signIdentity(CREDENTIAL, ALICE, ECHO, NOW);
  expect(verdicts(verifier, headers, ECHO, NOW + 10)).toEqual([ALICE, ALICE, ALICE]);
  expect(verifier.size).toBe(1);
});

test("after a signature was verified and remembered, every changed header still fails", () => {
  const verifier = new IdentityVerifier(CREDENTIAL);
  const headers = signIdentity(CREDENTIAL, ALICE, ECHO, NOW);
  expect(verifier.verify(reader(headers), ECHO, NOW)).toEqual(ALICE);
  const signature = headers[IDENTITY_HEADERS.signature];
  const flipped = (signature[0] === "0" ? "1" : "0") + signature.slice(1);
  const changed: Record<string, string>[] = [
    { ...headers, [IDENTITY_HEADERS.signature]: flipped },
    { ...headers, [IDENTITY_HEADERS.signature]: signature.slice(0, -2) },
    { ...headers, [IDENTITY_HEADERS.signature]: signIdentity(randomBytes(32), ALICE, ECHO, NOW)[IDENTITY_HEADERS.signature] },
    { ...headers, [IDENTITY_HEADERS.caller]: "0x0000000000000000000000000000000000000b0b" },
    { ...headers, [IDENTITY_HEADERS.authMethod]: "siwe" },
    { ...headers, [IDENTITY_HEADERS.timestamp]: String(NOW + 1) },
  ];
  for (const forged of changed) expect(verdicts(verifier, forged, ECHO, NOW)).toEqual([null, null, null]);
  // The same headers for another method (a replay against it) fail too.
  expect(verdicts(verifier, headers, "/openledger.examples.v1.EchoService/Sleep", NOW)).toEqual([null, null, null]);
  // And the genuine headers still pass: a forgery did not disturb what was remembered.
  expect(verifier.verify(reader(headers), ECHO, NOW)).toEqual(ALICE);
});

test("a remembered signature goes stale with its timestamp", () => {
  const verifier = new IdentityVerifier(CREDENTIAL);
  const headers = signIdentity(CREDENTIAL, ALICE, ECHO, NOW);
  expect(verifier.verify(reader(headers), ECHO, NOW)).toEqual(ALICE);
  expect(verdicts(verifier, headers, ECHO, NOW + MAX_IDENTITY_SKEW_MS + 1)).toEqual([null, null, null]);
  expect(verdicts(verifier, headers, ECHO, NOW - MAX_IDENTITY_SKEW_MS - 1)).toEqual([null, null, null]);
});

test("the verifier remembers at most maxEntries signatures, and still verifies past them", () => {
  const verifier = new IdentityVerifier(CREDENTIAL, 4);
  const signed = Array.from({ length: 10 }, (_, i) => signIdentity(CREDENTIAL, ALICE, ECHO, NOW + i));
  for (const headers of signed) expect(verifier.verify(reader(headers), ECHO, NOW)).toEqual(ALICE);
  expect(verifier.size).toBe(4);
  // The first ones were dropped and are verified again from scratch.
  expect(verifier.verify(reader(signed[0]), ECHO, NOW)).toEqual(ALICE);
  expect(verifier.size).toBe(4);
});
