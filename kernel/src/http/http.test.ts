// HTTP/JSON against the real echo plugin (plugins/examples/echo-ts), started by the real plugin host
// and reached through the real gateway, as the kernel wires them.
import { authV1, freePort } from "@openledger/sdk";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SiweMessage } from "siwe";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { CredentialStore, KernelAuth, createAuthService, publicMethodsOf } from "../auth";
import { Gateway } from "../gateway";
import { PluginHost } from "../host";
import { buildEchoTsPlugin, quietLogger } from "../host/__tests__/testing";
import { HttpGateway } from "./index";

const ECHO = "openledger.examples.v1.EchoService";
const ADDRESS = "0x1111111111111111111111111111111111111111";

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

function parseSse(text: string): SseEvent[] {
  return text
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => {
      const lines = block.split("\n");
      const event = lines.find((l) => l.startsWith("event: "))!.slice(7);
      const data = JSON.parse(lines.find((l) => l.startsWith("data: "))!.slice(6)) as Record<string, unknown>;
      return { event, data };
    });
}

describe("HTTP/JSON gateway", () => {
  let dir: string;
  let host: PluginHost;
  let gateway: Gateway;
  let http: HttpGateway;
  let base: string;
  let apiKey: string;

  beforeAll(async () => {
    buildEchoTsPlugin();
    dir = mkdtempSync(path.join(tmpdir(), "ol-http-"));
    const store = new CredentialStore(path.join(dir, "auth"));
    apiKey = store.createApiKey(ADDRESS, "test", false).apiKey;
    const grpcAddress = `127.0.0.1:${await freePort()}`;
    host = new PluginHost({
      pluginDirs: [path.resolve(__dirname, "../../../plugins/examples/echo-ts")],
      dataDir: path.join(dir, "plugins"),
      kernelAddress: grpcAddress,
      logger: quietLogger,
    });
    const auth = new KernelAuth({
      store,
      admins: [],
      isPublic: publicMethodsOf(host),
      siwe: { domain: "localhost", uri: "http://localhost", chainId: 31337 },
      sessionTtlMs: 60_000,
      nonceTtlMs: 60_000,
    });
    const kernelCredential = randomBytes(32);
    gateway = new Gateway({
      directory: host,
      authenticate: auth.authenticate,
      kernelCredential,
      localServices: [{ definition: authV1.AuthServiceService, implementation: createAuthService(auth, kernelCredential) }],
    });
    await gateway.listen(grpcAddress);
    await host.start();
    await host.waitFor("echo-ts", (p) => p.state === "ready");
    http = new HttpGateway({ catalog: gateway, invoker: gateway.invoker(), corsOrigins: ["http://console.example"], maxBodyBytes: 1024 });
    base = `http://${await http.listen("127.0.0.1", 0)}`;
  });

  afterAll(async () => {
    await http?.close();
    await host?.stop();
    await gateway?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (method: string, body: unknown, headers: Record<string, string> = {}, service = ECHO) =>
    fetch(`${base}/rpc/${service}/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  test("unary: JSON in, proto3 JSON out, anonymous on a public method", async () => {
    const response = await post("Echo", { message: "hello", payload: Buffer.from("bytes").toString("base64") });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ message: "hello", payload: Buffer.from("bytes").toString("base64"), caller: "" });
  });

  test("the same credentials as gRPC: an API key makes the plugin see the caller", async () => {
    const response = await post("Echo", { message: "who" }, { "x-api-key": apiKey, "x-request-note": "kept" });
    const body = (await response.json()) as { caller: string; metadata: Record<string, string> };
    expect(body.caller).toBe(ADDRESS);
    expect(body.metadata["x-request-note"]).toBe("kept");
    expect(body.metadata["x-api-key"]).toBeUndefined();
  });

  test("server streaming as server-sent events", async () => {
    const response = await post("Count", { count: 3, intervalMs: 1 }, { authorization: `Bearer ${apiKey}` });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const events = parseSse(await response.text());
    expect(events).toEqual([
      { event: "message", data: { index: 0 } },
      { event: "message", data: { index: 1 } },
      { event: "message", data: { index: 2 } },
      { event: "end", data: { code: 0, status: "OK", message: "" } },
    ]);
  });

  test("gRPC status becomes an HTTP status with a JSON error", async () => {
    const anonymous = await post("Count", { count: 1 });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: 16, status: "UNAUTHENTICATED", message: expect.stringMatching(/needs credentials/) });

    const forged = await post("Echo", { message: "x" }, { "x-ol-caller": ADDRESS });
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { message: string }).message).toMatch(/x-ol-caller is reserved/);

    const badKey = await post("Echo", {}, { "x-api-key": "ol_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" });
    expect([badKey.status, ((await badKey.json()) as { message: string }).message]).toEqual([401, "unknown API key"]);
  });

  test("bad requests are refused with a reason", async () => {
    const notJson = await post("Echo", "{ nope");
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { message: string }).message).toMatch(/not JSON/);

    const wrongField = await post("Echo", { mesage: "typo" });
    expect(wrongField.status).toBe(400);
    expect(((await wrongField.json()) as { message: string }).message).toMatch(/mesage/);

    const unknown = await post("Nope", {});
    expect(unknown.status).toBe(501);
    const clientStreaming = await post("Concat", {}, { "x-api-key": apiKey });
    expect([clientStreaming.status, ((await clientStreaming.json()) as { status: string }).status]).toEqual([501, "UNIMPLEMENTED"]);

    const tooLarge = await post("Echo", { message: "x".repeat(2000) });
    expect(tooLarge.status).toBe(413);
    expect(((await tooLarge.json()) as { status: string }).status).toBe("RESOURCE_EXHAUSTED");
    expect((await fetch(`${base}/elsewhere`)).status).toBe(404);
  });

  test("a browser signs in with Ethereum, creates an API key and calls a plugin with it", async () => {
    const AUTH = "openledger.kernel.v1.AuthService";
    const wallet = privateKeyToAccount(generatePrivateKey());
    const nonce = (await (await post("GetNonce", {}, {}, AUTH)).json()) as { nonce: string; domain: string; uri: string; chainId: string };
    expect(nonce.chainId).toBe("31337"); // int64 as a JSON string, as proto3 JSON maps it
    const message = new SiweMessage({
      domain: nonce.domain,
      uri: nonce.uri,
      chainId: Number(nonce.chainId),
      address: wallet.address,
      version: "1",
      nonce: nonce.nonce,
    }).prepareMessage();
    const signIn = await post("SignIn", { message, signature: await wallet.signMessage({ message }) }, {}, AUTH);
    expect(signIn.status).toBe(200);
    const { sessionToken } = (await signIn.json()) as { sessionToken: string };
    const created = await post("CreateApiKey", { label: "browser" }, { authorization: `Bearer ${sessionToken}` }, AUTH);
    const { apiKey: browserKey } = (await created.json()) as { apiKey: string };
    const echoed = (await (await post("Echo", { message: "signed" }, { "x-api-key": browserKey })).json()) as { caller: string };
    expect(echoed.caller).toBe(wallet.address.toLowerCase());
    const replay = await post("SignIn", { message, signature: await wallet.signMessage({ message }) }, {}, AUTH);
    expect([replay.status, ((await replay.json()) as { message: string }).message]).toEqual([401, "sign-in refused: unknown, used or expired nonce"]);
  });

  test("CORS: configured origins get a preflight answer, others nothing", async () => {
    const allowed = await fetch(`${base}/rpc/${ECHO}/Echo`, { method: "OPTIONS", headers: { origin: "http://console.example" } });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("http://console.example");
    const other = await fetch(`${base}/rpc/${ECHO}/Echo`, { method: "OPTIONS", headers: { origin: "http://evil.example" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});
