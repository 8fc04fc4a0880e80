// grpc.health.v1 and server reflection (v1, v1alpha) on the gateway answer for the union of the
// kernel's services and every plugin's, and follow plugins as they change state.
import { create, createFileRegistry, fromBinary, toBinary, type DescMessage, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { ServingStatus } from "@openledger/sdk";
import { KernelServiceService } from "@openledger/sdk/gen/openledger/kernel/v1/kernel";
import { ECHO_SERVICE, TestDirectory, echoDescriptors, startEchoPlugin, testAuthenticator, type EchoPlugin } from "./__tests__/fixtures";
import { Gateway } from "./gateway";
import { loadReflectionVersions } from "./reflection";

const passBytes = (b: Buffer): Buffer => b;

describe("health and reflection for the union of services", () => {
  let directory: TestDirectory;
  let plugin: EchoPlugin;
  let gateway: Gateway;
  let raw: grpc.Client;
  let registry: FileRegistry;

  beforeEach(async () => {
    directory = new TestDirectory();
    plugin = await startEchoPlugin();
    directory.add({ name: "echo", address: plugin.address, credential: plugin.credential, services: [ECHO_SERVICE] }, echoDescriptors());
    gateway = new Gateway({
      directory,
      authenticate: testAuthenticator,
      localServices: [{ definition: KernelServiceService, implementation: { getKernelInfo: () => {} } }],
    });
    raw = new grpc.Client(await gateway.listen("127.0.0.1:0"), grpc.credentials.createInsecure());
    // The union must be a complete set: every dependency present, every reference resolvable.
    registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, gateway.fileDescriptorSet()));
  });

  afterEach(async () => {
    raw.close();
    await gateway.close(100);
    await plugin.stop();
  });

  const healthRequest = (service: string): Buffer => {
    const schema = registry.getMessage("grpc.health.v1.HealthCheckRequest")!;
    return Buffer.from(toBinary(schema, create(schema, { service } as never)));
  };
  const statusOf = (bytes: Buffer): ServingStatus => {
    const schema: DescMessage = registry.getMessage("grpc.health.v1.HealthCheckResponse")!;
    return (fromBinary(schema, bytes) as unknown as { status: ServingStatus }).status;
  };
  const check = (service: string): Promise<ServingStatus> =>
    new Promise((resolve, reject) =>
      raw.makeUnaryRequest("/grpc.health.v1.Health/Check", passBytes, passBytes, healthRequest(service), (error, value) =>
        error ? reject(error) : resolve(statusOf(value!)),
      ),
    );

  test("Check answers per service and overall; unknown services are NOT_FOUND", async () => {
    expect(await check("")).toBe(ServingStatus.SERVING);
    expect(await check(ECHO_SERVICE)).toBe(ServingStatus.SERVING);
    expect(await check("openledger.kernel.v1.KernelService")).toBe(ServingStatus.SERVING);
    expect(await check("grpc.reflection.v1.ServerReflection")).toBe(ServingStatus.SERVING);
    await expect(check("no.Such")).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    directory.update("echo", { state: "backoff", reason: "crashed" });
    expect(await check(ECHO_SERVICE)).toBe(ServingStatus.NOT_SERVING);
    expect(await check("")).toBe(ServingStatus.SERVING);
  });

  test("Watch streams each change of a plugin's state, and learns services that appear later", async () => {
    const watch = (service: string) => raw.makeServerStreamRequest("/grpc.health.v1.Health/Watch", passBytes, passBytes, healthRequest(service));
    const seen: ServingStatus[] = [];
    const echoWatch = watch(ECHO_SERVICE);
    const next = (): Promise<void> => new Promise((resolve) => echoWatch.once("data", (bytes: Buffer) => (seen.push(statusOf(bytes)), resolve())));
    await next();
    let change = next();
    directory.update("echo", { state: "backoff", reason: "crashed" });
    await change;
    change = next();
    directory.update("echo", { state: "ready", reason: "" });
    await change;
    expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING, ServingStatus.SERVING]);

    const laterWatch = watch("later.v1.LaterService");
    const later: ServingStatus[] = [];
    const laterNext = (): Promise<void> => new Promise((resolve) => laterWatch.once("data", (bytes: Buffer) => (later.push(statusOf(bytes)), resolve())));
    await laterNext();
    change = laterNext();
    directory.add({ name: "later", address: plugin.address, credential: plugin.credential, services: ["later.v1.LaterService"] }, []);
    await change;
    expect(later).toEqual([ServingStatus.SERVICE_UNKNOWN, ServingStatus.SERVING]);
    for (const call of [echoWatch, laterWatch]) {
      call.on("error", () => {});
      call.cancel();
    }
  });

  for (const version of ["v1", "v1alpha"]) {
    test(`reflection ${version}: lists every service and returns their files with dependencies`, async () => {
      const definition = loadReflectionVersions().find((v) => v.definition.ServerReflectionInfo.path.includes(`.${version}.`))!.definition;
      const Reflection = grpc.makeGenericClientConstructor(definition, "ServerReflection");
      const client = new Reflection(raw.getChannel().getTarget().replace(/^dns:/, ""), grpc.credentials.createInsecure()) as unknown as grpc.Client & {
        ServerReflectionInfo(): grpc.ClientDuplexStream<object, Record<string, unknown>>;
      };
      const stream = client.ServerReflectionInfo();
      const ask = (request: object): Promise<Record<string, unknown>> =>
        new Promise((resolve) => {
          stream.once("data", resolve);
          stream.write(request);
        });
      const names = (response: Record<string, unknown>): string[] =>
        (response.fileDescriptorResponse as { fileDescriptorProto: Buffer[] }).fileDescriptorProto.map(
          (bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name,
        );

      const listed = await ask({ listServices: "*" });
      expect((listed.listServicesResponse as { service: { name: string }[] }).service.map((s) => s.name)).toEqual([
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        ECHO_SERVICE,
        "openledger.kernel.v1.KernelService",
      ]);
      expect(names(await ask({ fileContainingSymbol: ECHO_SERVICE }))).toEqual(["openledger/examples/v1/echo.proto"]);
      expect(names(await ask({ fileContainingSymbol: "openledger.examples.v1.EchoService.Echo" }))).toEqual(["openledger/examples/v1/echo.proto"]);
      expect(names(await ask({ fileContainingSymbol: "openledger.examples.v1.ChatRequest" }))).toEqual(["openledger/examples/v1/echo.proto"]);
      expect(names(await ask({ fileContainingSymbol: "openledger.kernel.v1.KernelService" }))).toContain("openledger/kernel/v1/kernel.proto");
      expect(names(await ask({ fileByFilename: "grpc/health/v1/health.proto" }))).toEqual(["grpc/health/v1/health.proto"]);
      expect(await ask({ fileContainingSymbol: "no.Such" })).toMatchObject({ errorResponse: { errorCode: grpc.status.NOT_FOUND } });
      const ended = new Promise((resolve) => stream.on("status", resolve));
      stream.end();
      expect(await ended).toMatchObject({ code: grpc.status.OK });
      client.close();
    });
  }

  test("undecodable descriptors from a plugin are reported and skipped, the rest still served", async () => {
    const warnings: string[] = [];
    const lenient = new Gateway({ directory, authenticate: testAuthenticator, logger: { warn: (message) => warnings.push(message) } });
    directory.add(
      { name: "broken", address: plugin.address, credential: plugin.credential, services: ["broken.v1.Broken"] },
      [Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])],
    );
    expect(warnings.some((w) => w.startsWith("plugin broken: undecodable file descriptor ignored"))).toBe(true);
    expect(lenient.describe(`/${ECHO_SERVICE}/Echo`)?.plugin).toBe("echo");
    expect(lenient.list().some((method) => method.plugin === "broken")).toBe(false);
    await lenient.close(0);
  });

  test("a removed plugin's service is no longer described, nor routed, nor SERVING", async () => {
    directory.remove("echo");
    expect(await check(ECHO_SERVICE)).toBe(ServingStatus.NOT_SERVING);
    expect(gateway.list().some((method) => method.plugin === "echo")).toBe(false);
    const union = createFileRegistry(fromBinary(FileDescriptorSetSchema, gateway.fileDescriptorSet()));
    expect(union.getService(ECHO_SERVICE)).toBeUndefined();
  });
});
