// The handshake environment as a plugin reads it (the full bootstrap runs in the echo plugins' tests).
import { readHandshakeEnvironment, PluginEnvironmentError } from "./serve";

const complete = {
  OL_PLUGIN_MAGIC_COOKIE: "5b3d1c0e-openledger-plugin",
  OL_PLUGIN_PROTOCOL_VERSIONS: "1,2,3",
  OL_PLUGIN_LISTEN: "unix:/tmp/x.sock",
  OL_PLUGIN_CREDENTIAL: Buffer.alloc(32, 1).toString("base64"),
  OL_PLUGIN_NAME: "demo",
  OL_PLUGIN_CONFIG: '{"a":1}',
  OL_PLUGIN_PUBLIC_METHODS: "/p.S/A,/p.S/B",
};

test("reads the environment and picks the highest common protocol version", () => {
  expect(readHandshakeEnvironment(complete, [1, 2, 9])).toMatchObject({
    name: "demo",
    protocolVersion: 2,
    listen: "unix:/tmp/x.sock",
    config: { a: 1 },
    publicMethods: ["/p.S/A", "/p.S/B"],
  });
});

test.each([
  [{ OL_PLUGIN_MAGIC_COOKIE: undefined }, /the kernel starts it/],
  [{ OL_PLUGIN_PROTOCOL_VERSIONS: "7" }, /no common plugin protocol version: kernel offers \[7\], plugin speaks \[1\]/],
  [{ OL_PLUGIN_LISTEN: "" }, /OL_PLUGIN_LISTEN is not set/],
  [{ OL_PLUGIN_CREDENTIAL: "c2hvcnQ=" }, /OL_PLUGIN_CREDENTIAL must be at least 16/],
  [{ OL_PLUGIN_CONFIG: "{nope" }, /OL_PLUGIN_CONFIG is not JSON/],
])("refuses a broken environment %#", (change, message) => {
  const env = { ...complete, ...change };
  expect(() => readHandshakeEnvironment(env, [1])).toThrow(PluginEnvironmentError);
  expect(() => readHandshakeEnvironment(env, [1])).toThrow(message);
});
