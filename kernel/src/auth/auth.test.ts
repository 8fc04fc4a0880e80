import { Metadata, Server, ServerCredentials, credentials, status, type ServiceError } from "@grpc/grpc-js";
import { authV1, signIdentity, type PluginRuntime } from "@openledger/sdk";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SiweMessage } from "siwe";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { CredentialStore, KernelAuth, createAuthService, publicMethodsOf } from "./index";

const SIWE = { domain: "localhost", uri: "http://localhost", chainId: 31337 };
const ADMIN = "0x00000000000000000000000000000000000000aa";
const ECHO = "/openledger.examples.v1.EchoService/Echo";
const COUNT = "/openledger.examples.v1.EchoService/Count";

function meta(headers: Record<string, string>): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return metadata;
}

async function refusal(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error("expected the call to be refused");
}

describe("kernel auth", () => {
  let dir: string;
  let auth: KernelAuth;
  // The plugin directory the public-method predicate reads: one plugin whose manifest makes Count public.
  const echoPlugin = { services: ["openledger.examples.v1.EchoService"], publicMethods: [COUNT] } as unknown as PluginRuntime;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "ol-auth-"));
    auth = new KernelAuth({
      store: new CredentialStore(path.join(dir, "auth")),
      admins: [ADMIN],
      isPublic: publicMethodsOf({ findByService: (service) => (service === "openledger.examples.v1.EchoService" ? echoPlugin : undefined) }),
      siwe: SIWE,
      sessionTtlMs: 60_000,
      nonceTtlMs: 60_000,
    });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function signedMessage(overrides: Partial<SiweMessage> = {}) {
    const account = privateKeyToAccount(generatePrivateKey());
    const { nonce } = auth.issueNonce();
    const message = new SiweMessage({
      ...SIWE,
      address: account.address,
      version: "1",
      nonce,
      issuedAt: new Date().toISOString(),
      statement: "Sign in to OpenLedger",
      ...overrides,
    }).prepareMessage();
    return { account, message, signature: await account.signMessage({ message }) };
  }

  test("no credentials on a private method is UNAUTHENTICATED with a reason; public methods are anonymous", async () => {
    const err = await refusal(auth.authenticate(ECHO, new Metadata()));
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.details).toMatch(/needs credentials/);
    await expect(auth.authenticate(COUNT, new Metadata())).resolves.toEqual({ address: "", authMethod: "none" });
    await expect(auth.authenticate("/grpc.health.v1.Health/Check", new Metadata())).resolves.toEqual({ address: "", authMethod: "none" });
    await expect(auth.authenticate("/openledger.kernel.v1.AuthService/GetNonce", new Metadata())).resolves.toMatchObject({ authMethod: "none" });
  });

  test("an API key resolves to its address by either header; a bad or revoked key is refused", async () => {
    const owner = privateKeyToAccount(generatePrivateKey()).address;
    const { apiKey, record } = auth.store.createApiKey(owner, "ci", false);
    const expected = { address: owner.toLowerCase(), authMethod: "apikey" };
    await expect(auth.authenticate(ECHO, meta({ authorization: `Bearer ${apiKey}` }))).resolves.toEqual(expected);
    await expect(auth.authenticate(ECHO, meta({ "x-api-key": apiKey }))).resolves.toEqual(expected);

    const tampered = apiKey.slice(0, -2) + (apiKey.endsWith("AA") ? "BB" : "AA");
    const bad = await refusal(auth.authenticate(ECHO, meta({ "x-api-key": tampered })));
    expect([bad.code, bad.details]).toEqual([status.UNAUTHENTICATED, "unknown API key"]);
    const garbage = await refusal(auth.authenticate(COUNT, meta({ authorization: "Bearer ol_nonsense" })));
    expect([garbage.code, garbage.details]).toEqual([status.UNAUTHENTICATED, "malformed API key"]);

    auth.store.revokeApiKey(record.id);
    const revoked = await refusal(auth.authenticate(ECHO, meta({ "x-api-key": apiKey })));
    expect(revoked.details).toMatch(/revoked/);
    // Keys are stored hashed, in a private file.
    expect(statSync(path.join(dir, "auth", "api-keys.json")).mode & 0o077).toBe(0);
  });

  test("a forged x-ol-* identity header is UNAUTHENTICATED even with a valid key", async () => {
    const { apiKey } = auth.store.createApiKey(ADMIN, "", false);
    const err = await refusal(auth.authenticate(ECHO, meta({ "x-api-key": apiKey, "x-ol-caller": ADMIN })));
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.details).toMatch(/x-ol-caller is reserved/);
  });

  test("SIWE: nonce, signed message, session token resolves to the signer; replay, wrong domain and forgery refused", async () => {
    const { account, message, signature } = await signedMessage();
    const { token, session } = await auth.signIn(message, signature);
    expect(session.address).toBe(account.address.toLowerCase());
    await expect(auth.authenticate(ECHO, meta({ authorization: `Bearer ${token}` }))).resolves.toEqual({
      address: account.address.toLowerCase(),
      authMethod: "siwe",
    });
    expect((await refusal(auth.signIn(message, signature))).details).toMatch(/used or expired nonce/);

    const other = await signedMessage({ domain: "evil.example" });
    expect((await refusal(auth.signIn(other.message, other.signature))).details).toMatch(/domain "evil.example"/);

    const honest = await signedMessage();
    const impostor = privateKeyToAccount(generatePrivateKey());
    const forged = await refusal(auth.signIn(honest.message, await impostor.signMessage({ message: honest.message })));
    expect([forged.code, forged.details]).toEqual([status.UNAUTHENTICATED, `sign-in refused: signature is not from ${honest.account.address}`]);
    // The refused attempt did not burn the honest user's nonce.
    await expect(auth.signIn(honest.message, honest.signature)).resolves.toMatchObject({ session: { address: honest.account.address.toLowerCase() } });

    expect((await refusal(auth.signIn("hello", "0x00"))).code).toBe(status.INVALID_ARGUMENT);
  });

  test("an expired or tampered session is UNAUTHENTICATED", async () => {
    const { token } = auth.store.issueSession(ADMIN, 1000, Date.now() - 5000);
    const expired = await refusal(auth.authenticate(ECHO, meta({ authorization: `Bearer ${token}` })));
    expect([expired.code, expired.details]).toEqual([status.UNAUTHENTICATED, expect.stringMatching(/^session expired at /)]);
    const fresh = auth.store.issueSession(ADMIN, 60_000).token;
    const [payload] = fresh.slice(4).split(".");
    const tampered = `ols_${payload}.${"A".repeat(43)}`;
    expect((await refusal(auth.authenticate(ECHO, meta({ authorization: `Bearer ${tampered}` })))).details).toMatch(/does not verify/);
  });

  test("bootstrap admin key is created once, stored privately, and is admin", async () => {
    const first = auth.store.bootstrapAdminKey(ADMIN);
    expect(first.created).toBe(true);
    expect(statSync(path.join(dir, "auth", "admin-api-key")).mode & 0o077).toBe(0);
    const again = new CredentialStore(path.join(dir, "auth")).bootstrapAdminKey(ADMIN);
    expect(again).toEqual({ apiKey: first.apiKey, created: false });
    expect(auth.isAdmin((await auth.authenticate(ECHO, meta({ "x-api-key": first.apiKey }))).address)).toBe(true);
    expect(auth.isAdmin(privateKeyToAccount(generatePrivateKey()).address.toLowerCase())).toBe(false);
  });

  // The service trusts identity headers signed with the kernel credential, as the gateway adds them
  // to calls of kernel services after running the Authenticator; `call` does the gateway's part.
  describe("AuthService over gRPC", () => {
    const kernelCredential = randomBytes(32);
    let server: Server;
    let client: InstanceType<typeof authV1.AuthServiceClient>;

    beforeEach(async () => {
      server = new Server();
      server.addService(authV1.AuthServiceService, createAuthService(auth, kernelCredential));
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
      );
      client = new authV1.AuthServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    });
    afterEach(async () => {
      client.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    });

    async function call<Req, Res>(method: string, request: Req, credentials = new Metadata()): Promise<Res> {
      const path = `/openledger.kernel.v1.AuthService/${method[0].toUpperCase()}${method.slice(1)}`;
      const identity = await auth.authenticate(path, credentials);
      return direct(method, request, meta(signIdentity(kernelCredential, identity, path)));
    }

    function direct<Req, Res>(method: string, request: Req, metadata: Metadata): Promise<Res> {
      return new Promise((resolve, reject) => {
        const fn = (client as unknown as Record<string, (r: Req, m: Metadata, cb: (e: ServiceError | null, v: Res) => void) => void>)[method];
        fn.call(client, request, metadata, (err, value) => (err ? reject(err) : resolve(value)));
      });
    }

    test("sign in with SIWE, create, list and revoke an API key, WhoAmI", async () => {
      const account = privateKeyToAccount(generatePrivateKey());
      const nonce = await call<authV1.GetNonceRequest, authV1.GetNonceResponse>("getNonce", {});
      expect(nonce).toMatchObject({ domain: SIWE.domain, uri: SIWE.uri, chainId: 31337n });
      const message = new SiweMessage({ ...SIWE, address: account.address, version: "1", nonce: nonce.nonce }).prepareMessage();
      const signIn = await call<authV1.SignInRequest, authV1.SignInResponse>("signIn", {
        message,
        signature: await account.signMessage({ message }),
      });
      const asUser = meta({ authorization: `Bearer ${signIn.sessionToken}` });
      const created = await call<authV1.CreateApiKeyRequest, authV1.CreateApiKeyResponse>("createApiKey", { address: "", label: "laptop", admin: false }, asUser);
      expect(created.info).toMatchObject({ address: account.address.toLowerCase(), label: "laptop", admin: false });
      const whoAmI = await call<authV1.WhoAmIRequest, authV1.WhoAmIResponse>("whoAmI", {}, meta({ "x-api-key": created.apiKey }));
      expect(whoAmI).toEqual({ address: account.address.toLowerCase(), authMethod: "apikey", admin: false });

      const forOther = await refusal(call("createApiKey", { address: ADMIN, label: "", admin: false }, asUser));
      expect(forOther.code).toBe(status.PERMISSION_DENIED);
      const adminKey = await refusal(call("createApiKey", { address: "", label: "", admin: true }, asUser));
      expect(adminKey.code).toBe(status.PERMISSION_DENIED);

      const listed = await call<authV1.ListApiKeysRequest, authV1.ListApiKeysResponse>("listApiKeys", { address: "" }, asUser);
      expect(listed.keys.map((key) => key.id)).toEqual([created.info!.id]);
      await call("revokeApiKey", { id: created.info!.id }, asUser);
      const afterRevoke = await refusal(call("whoAmI", {}, meta({ "x-api-key": created.apiKey })));
      expect(afterRevoke.code).toBe(status.UNAUTHENTICATED);
    });

    test("an admin manages another address's keys; anonymous callers are refused", async () => {
      const admin = meta({ "x-api-key": auth.store.bootstrapAdminKey(ADMIN).apiKey });
      const user = privateKeyToAccount(generatePrivateKey()).address.toLowerCase();
      const created = await call<authV1.CreateApiKeyRequest, authV1.CreateApiKeyResponse>("createApiKey", { address: user, label: "svc", admin: false }, admin);
      expect(created.info?.address).toBe(user);
      const listed = await call<authV1.ListApiKeysRequest, authV1.ListApiKeysResponse>("listApiKeys", { address: user }, admin);
      expect(listed.keys).toHaveLength(1);
      const anonymous = await refusal(call("listApiKeys", { address: "" }));
      expect(anonymous.code).toBe(status.UNAUTHENTICATED);
      const badAddress = await refusal(call("createApiKey", { address: "0x1234", label: "", admin: false }, admin));
      expect(badAddress.code).toBe(status.INVALID_ARGUMENT);
    });

    test("a call that bypasses the gateway, or is signed with another credential, is UNAUTHENTICATED", async () => {
      const bypass = await refusal(direct("whoAmI", {}, meta({ "x-api-key": auth.store.bootstrapAdminKey(ADMIN).apiKey })));
      expect([bypass.code, bypass.details]).toEqual([status.UNAUTHENTICATED, "call carries no identity signed by the kernel gateway"]);
      const forged = signIdentity(randomBytes(32), { address: ADMIN, authMethod: "apikey" }, "/openledger.kernel.v1.AuthService/WhoAmI");
      expect((await refusal(direct("whoAmI", {}, meta(forged)))).code).toBe(status.UNAUTHENTICATED);
    });
  });
});
