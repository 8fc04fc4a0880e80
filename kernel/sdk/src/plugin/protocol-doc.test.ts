// docs/plugin-protocol.md is what authors in other languages follow: its identity test vector and
// its environment table must agree with the code.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { signIdentity, verifyIdentity } from "../identity";
import { ENV, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE } from "../protocol";

const doc = readFileSync(join(__dirname, "../../../../docs/plugin-protocol.md"), "utf8");

test("the identity test vector in the spec is what signIdentity produces", () => {
  const credential = doc.match(/Test vector: `OL_PLUGIN_CREDENTIAL=([^`]+)`/)![1]!;
  const signature = doc.match(/`x-ol-caller-sig` is\s+`([0-9a-f]{64})`/)![1]!;
  const identity = { address: "0x00000000000000000000000000000000000a11ce", authMethod: "apikey" } as const;
  const method = "/openledger.examples.v1.EchoService/Echo";
  const headers = signIdentity(Buffer.from(credential, "base64"), identity, method, 1700000000000);
  expect(headers["x-ol-caller-sig"]).toBe(signature);
  expect(verifyIdentity(Buffer.from(credential, "base64"), (name) => headers[name], method, 1700000000000)).toEqual(identity);
});

test("the spec lists every handshake environment variable and the cookie", () => {
  for (const name of [MAGIC_COOKIE_KEY, ...Object.values(ENV)]) expect(doc).toContain(`| \`${name}\` |`);
  expect(doc).toContain(MAGIC_COOKIE_VALUE);
});
