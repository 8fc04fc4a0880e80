// The Python example client against the real thing: the kernel's auth (API key), plugin host and
// gateway in this process, the TypeScript echo plugin as its own process, and echo_client.py.
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { Gateway, PluginHost, type HostLogger } from "@openledger/kernel";
import { CredentialStore, KernelAuth, publicMethodsOf } from "@openledger/kernel/auth";

const ROOT = resolve(__dirname, "../../..");
const PYTHON = join(ROOT, ".tools/venv/bin/python");
const CALLER = "0x00000000000000000000000000000000000c0ffe";
const run = promisify(execFile);

const scratch = mkdtempSync(join(tmpdir(), "ol-python-client-"));
let host: PluginHost;
let gateway: Gateway;
let apiKey: string;

beforeAll(async () => {
  // The plugin runs as its own node process, from its compiled output (and the SDK's).
  execFileSync(join(ROOT, "node_modules/.bin/tsc"), ["-b", "kernel/sdk", "plugins/examples/echo-ts"], { cwd: ROOT, stdio: "inherit" });
  const quiet = (): void => {};
  const logger: HostLogger = { debug: quiet, info: quiet, warn: quiet, error: quiet };
  host = new PluginHost({ pluginDirs: [join(ROOT, "plugins/examples/echo-ts")], dataDir: join(scratch, "data"), logger });
  await host.start();
  const auth = new KernelAuth({
    store: new CredentialStore(join(scratch, "auth")),
    admins: [],
    isPublic: publicMethodsOf(host),
    siwe: { domain: "localhost", uri: "http://localhost", chainId: 31337 },
    sessionTtlMs: 60_000,
    nonceTtlMs: 60_000,
  });
  apiKey = auth.store.createApiKey(CALLER, "python example", false).apiKey;
  gateway = new Gateway({ directory: host, authenticate: auth.authenticate });
  await gateway.listen("127.0.0.1:0");
}, 180_000);

afterAll(async () => {
  await gateway?.close(100);
  await host?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

test("the Python client calls the TypeScript echo plugin through the gateway with an API key", async () => {
  expect(host.get("echo-ts")?.state).toBe("ready");
  const { stdout } = await run(
    PYTHON,
    [join(__dirname, "echo_client.py"), "--address", gateway.address!, "--api-key", apiKey],
    { timeout: 60_000 },
  );
  expect(JSON.parse(stdout)).toEqual({
    echo: { message: "hello from python", caller: CALLER },
    count: [0, 1, 2],
    concat: { joined: "abc", parts: 3 },
    chat: ["one", "two"],
    anonymous_count: "UNAUTHENTICATED",
    health: "SERVING",
    services: [
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "openledger.examples.v1.EchoService",
    ],
    echo_methods: ["Echo", "Count", "Concat", "Chat", "Sleep"],
  });
});
