// openledger.kernel.v1.AuthService, served by the kernel on its gateway. The gateway authenticates
// each call and adds identity headers signed with the kernel's credential, as it does for plugins;
// the service trusts only those.
import { status, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { authV1, verifyIdentity } from "@openledger/sdk";
import { CredentialError, type ApiKeyRecord } from "./credentials";
import { grpcError, type Caller, type KernelAuth } from "./kernel-auth";

const SERVICE = "/openledger.kernel.v1.AuthService/";

function toInfo(key: ApiKeyRecord): authV1.ApiKeyInfo {
  return {
    id: key.id,
    address: key.address,
    label: key.label,
    createdAtMs: BigInt(key.createdAtMs),
    lastUsedAtMs: BigInt(key.lastUsedAtMs),
    admin: key.admin,
  };
}

type Handler<Req, Res> = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;

function requireSignedIn(caller: Caller): string {
  if (!caller.identity.address) throw grpcError(status.UNAUTHENTICATED, "sign in first");
  return caller.identity.address;
}

/** Who the request acts for: the caller, or (admins only) the address it names. */
function subject(caller: Caller, requested: string, action: string): string {
  const self = requireSignedIn(caller);
  const wanted = requested.toLowerCase();
  if (!wanted || wanted === self) return self;
  if (!caller.admin) throw grpcError(status.PERMISSION_DENIED, `only an admin may ${action} for another address`);
  return wanted;
}

/**
 * `kernelCredential` is the secret the gateway signs identity headers for kernel services with
 * (GatewayOptions.kernelCredential).
 */
export function createAuthService(auth: KernelAuth, kernelCredential: Buffer): authV1.AuthServiceServer {
  const callerOf = (method: string, call: ServerUnaryCall<unknown, unknown>): Caller => {
    const identity = verifyIdentity(kernelCredential, (name) => call.metadata.get(name)[0]?.toString(), SERVICE + method);
    if (!identity) throw grpcError(status.UNAUTHENTICATED, "call carries no identity signed by the kernel gateway");
    return { identity, admin: auth.isAdmin(identity.address) };
  };
  function unary<Req, Res>(method: string, handle: (request: Req, caller: Caller) => Res | Promise<Res>): Handler<Req, Res> {
    return (call, callback) => {
      Promise.resolve()
        .then(() => handle(call.request, callerOf(method, call)))
        .then(
          (response) => callback(null, response),
          (err: unknown) => {
            if (err instanceof CredentialError) callback(grpcError(status.INVALID_ARGUMENT, err.message));
            else if (err instanceof Error && "code" in err) callback(err as Error & { code: number });
            else callback(grpcError(status.INTERNAL, err instanceof Error ? err.message : String(err)));
          },
        );
    };
  }
  return {
    getNonce: unary("GetNonce", (): authV1.GetNonceResponse => {
      const { nonce, expiresAtMs } = auth.issueNonce();
      const { domain, uri, chainId } = auth.siwe;
      return { nonce, expiresAtMs: BigInt(expiresAtMs), domain, uri, chainId: BigInt(chainId) };
    }),
    signIn: unary("SignIn", async (request: authV1.SignInRequest): Promise<authV1.SignInResponse> => {
      const { token, session } = await auth.signIn(request.message, request.signature);
      return { sessionToken: token, address: session.address, expiresAtMs: BigInt(session.expiresAtMs) };
    }),
    createApiKey: unary("CreateApiKey", (request: authV1.CreateApiKeyRequest, caller): authV1.CreateApiKeyResponse => {
      const address = subject(caller, request.address, "create API keys");
      if (request.admin && !caller.admin) throw grpcError(status.PERMISSION_DENIED, "only an admin may create admin keys");
      const issued = auth.store.createApiKey(address, request.label, request.admin);
      return { apiKey: issued.apiKey, info: toInfo(issued.record) };
    }),
    listApiKeys: unary("ListApiKeys", (request: authV1.ListApiKeysRequest, caller): authV1.ListApiKeysResponse => ({
      keys: auth.store.listApiKeys(subject(caller, request.address, "list API keys")).map(toInfo),
    })),
    revokeApiKey: unary("RevokeApiKey", (request: authV1.RevokeApiKeyRequest, caller): authV1.RevokeApiKeyResponse => {
      const self = requireSignedIn(caller);
      const key = auth.store.getApiKey(request.id);
      if (!key || key.revoked) throw grpcError(status.NOT_FOUND, `no API key ${request.id}`);
      if (key.address !== self && !caller.admin) throw grpcError(status.PERMISSION_DENIED, "only an admin may revoke another address's key");
      auth.store.revokeApiKey(request.id);
      return {};
    }),
    whoAmI: unary("WhoAmI", (_request: authV1.WhoAmIRequest, caller): authV1.WhoAmIResponse => ({
      address: caller.identity.address,
      authMethod: caller.identity.authMethod,
      admin: caller.admin,
    })),
  };
}
