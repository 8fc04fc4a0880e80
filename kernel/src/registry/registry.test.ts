// The registry services served by a real grpc-js server over a real PluginHost; a second host
// runs the echo-ts plugin on TCP to play a remote plugin.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { kernelV1, PROTOCOL_VERSIONS, signIdentity, type Identity } from "@openledger/sdk";
import { PluginHost } from "../host";
import { createKernelService, createPluginRegistryService, type KernelInfo } from "./registry";
import { buildEchoTsPlugin, quietLogger } from "../host/__tests__/testing";

const ROOT = resolve(__dirname, "../../..");
const ADMIN: Identity = { address: "0x00000000000000000000000000000000000000aa", authMethod: "apikey" };
const USER: Identity = { address: "0x00000000000000000000000000000000000000bb", authMethod: "apikey" };
const kernelCredential = Buffer.alloc(32, 9);
const INFO: KernelInfo = {
  version: "9.9.9",
  grpcAddress: "127.0.0.1:1",
  httpAddress: "127.0.0.1:2",
  metricsAddress: "",
  temporalAddress: "127.0.0.1:3",
  temporalUiAddress: "",
  chainRpcUrl: "http://127.0.0.1:4",
};

const scratch = mkdtempSync(join(tmpdir(), "ol-registry-"));
let remoteHost: PluginHost;
let host: PluginHost;
let server: grpc.Server;
let registry: kernelV1.PluginRegistryServiceClient;
let kernel: kernelV1.KernelServiceClient;

beforeAll(async () => {
  buildEchoTsPlugin();
  remoteHost = new PluginHost({ pluginDirs: [join(ROOT, "plugins/examples/echo-ts")], listen: "tcp", dataDir: scratch, logger: quietLogger });
  await remoteHost.start();
  host = new PluginHost({ pluginDirs: [], dataDir: scratch, logger: quietLogger });
  server = new grpc.Server();
  server.addService(kernelV1.PluginRegistryServiceService, createPluginRegistryService(host, kernelCredential, { isAdmin: (a) => a === ADMIN.address }));
  server.addService(kernelV1.KernelServiceService, createKernelService(() => INFO));
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? rej(err) : res(p))),
  );
  registry = new kernelV1.PluginRegistryServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  kernel = new kernelV1.KernelServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}, 120000);

afterAll(async () => {
  registry?.close();
  kernel?.close();
  server?.forceShutdown();
  await host?.stop();
  await remoteHost?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const as = (identity: Identity, method: string) =>
  grpc.Metadata.fromHttp2Headers(signIdentity(kernelCredential, identity, `/openledger.kernel.v1.PluginRegistryService/${method}`));

function call<Req, Res>(method: (req: Req, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown, request: Req, metadata: grpc.Metadata): Promise<Res> {
  return new Promise((res, rej) => method.call(registry, request, metadata, (err, r) => (err ? rej(err) : res(r))));
}

test("registers, lists, watches and deregisters a remote plugin; only admins may change", async () => {
  const remoteAddress = remoteHost.get("echo-ts")!.address;
  const request = {
    name: "remote-echo",
    version: "2.0.0",
    address: remoteAddress,
    services: ["openledger.examples.v1.EchoService"],
    publicMethods: ["/openledger.examples.v1.EchoService/Echo"],
  };

  await expect(call(registry.listPlugins, {}, new grpc.Metadata())).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  await expect(call(registry.registerRemotePlugin, request, as(USER, "RegisterRemotePlugin"))).rejects.toMatchObject({
    code: grpc.status.PERMISSION_DENIED,
  });
  await expect(
    call(registry.registerRemotePlugin, { ...request, services: ["openledger.examples.v1.Absent"], publicMethods: [] }, as(ADMIN, "RegisterRemotePlugin")),
  ).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION, details: expect.stringContaining("does not serve") });
  await expect(
    call(registry.registerRemotePlugin, { ...request, publicMethods: ["/openledger.kernel.v1.AuthService/CreateApiKey"] }, as(ADMIN, "RegisterRemotePlugin")),
  ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining("AuthService/CreateApiKey") });

  const watched: kernelV1.PluginInfo[] = [];
  const watch = registry.watchPlugins({}, as(USER, "WatchPlugins"));
  watch.on("data", (r: kernelV1.WatchPluginsResponse) => watched.push(r.plugin!));
  watch.on("error", () => undefined);

  const registered = await call(registry.registerRemotePlugin, request, as(ADMIN, "RegisterRemotePlugin"));
  expect(registered.plugin).toMatchObject({ name: "remote-echo", version: "2.0.0", state: kernelV1.PluginState.PLUGIN_STATE_READY, remote: true, pid: 0 });
  expect(Buffer.from(registered.credential, "base64")).toEqual(host.get("remote-echo")!.credential);
  expect(host.get("remote-echo")!.publicMethods).toEqual(["/openledger.examples.v1.EchoService/Echo"]);

  const listed = await call(registry.listPlugins, {}, as(USER, "ListPlugins"));
  expect(listed.plugins.map((p) => [p.name, p.state, p.address])).toEqual([["remote-echo", kernelV1.PluginState.PLUGIN_STATE_READY, remoteAddress]]);

  await expect(call(registry.deregisterRemotePlugin, { name: "nope" }, as(ADMIN, "DeregisterRemotePlugin"))).rejects.toMatchObject({
    code: grpc.status.NOT_FOUND,
  });
  await call(registry.deregisterRemotePlugin, { name: "remote-echo" }, as(ADMIN, "DeregisterRemotePlugin"));
  expect((await call(registry.listPlugins, {}, as(USER, "ListPlugins"))).plugins).toEqual([]);
  for (let i = 0; i < 50 && watched.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  watch.cancel();
  expect(watched.map((p) => p.state)).toEqual([kernelV1.PluginState.PLUGIN_STATE_READY, kernelV1.PluginState.PLUGIN_STATE_STOPPED]);
});

test("GetKernelInfo reports the kernel's addresses and protocol versions", async () => {
  const info = await new Promise<kernelV1.GetKernelInfoResponse>((res, rej) =>
    kernel.getKernelInfo({}, (err, r) => (err ? rej(err) : res(r))),
  );
  expect(info).toEqual({ ...INFO, protocolVersions: [...PROTOCOL_VERSIONS] });
});
