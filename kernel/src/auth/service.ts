// openledger.kernel.v1.AuthService, served by the kernel on its gateway. Each handler resolves the
// caller itself from the call's credentials, so it does not depend on how the gateway hands over
// identities to local services.
import { status, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { authV1 } from "@openledger/sdk";
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

function unary<Req, Res>(
  auth: KernelAuth,
  method: string,
  handle: (request: Req, caller: Caller) => Res | Promise<Res>,
): (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void {
  return (call, callback) => {
    Promise.resolve()
      .then(() => handle(call.request, auth.resolve(SERVICE + method, call.metadata)))
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

export function createAuthService(auth: KernelAuth): authV1.AuthServiceServer {
  return {
    getNonce: unary(auth, "GetNonce", (): authV1.GetNonceResponse => {
      const { nonce, expiresAtMs } = auth.issueNonce();
      const { domain, uri, chainId } = auth.siwe;
      return { nonce, expiresAtMs: BigInt(expiresAtMs), domain, uri, chainId: BigInt(chainId) };
    }),
    signIn: unary(auth, "SignIn", async (request: authV1.SignInRequest): Promise<authV1.SignInResponse> => {
      const { token, session } = await auth.signIn(request.message, request.signature);
      return { sessionToken: token, address: session.address, expiresAtMs: BigInt(session.expiresAtMs) };
    }),
    createApiKey: unary(auth, "CreateApiKey", (request: authV1.CreateApiKeyRequest, caller): authV1.CreateApiKeyResponse => {
      const address = subject(caller, request.address, "create API keys");
      if (request.admin && !caller.admin) throw grpcError(status.PERMISSION_DENIED, "only an admin may create admin keys");
      const issued = auth.store.createApiKey(address, request.label, request.admin);
      return { apiKey: issued.apiKey, info: toInfo(issued.record) };
    }),
    listApiKeys: unary(auth, "ListApiKeys", (request: authV1.ListApiKeysRequest, caller): authV1.ListApiKeysResponse => ({
      keys: auth.store.listApiKeys(subject(caller, request.address, "list API keys")).map(toInfo),
    })),
    revokeApiKey: unary(auth, "RevokeApiKey", (request: authV1.RevokeApiKeyRequest, caller): authV1.RevokeApiKeyResponse => {
      const self = requireSignedIn(caller);
      const key = auth.store.getApiKey(request.id);
      if (!key || key.revoked) throw grpcError(status.NOT_FOUND, `no API key ${request.id}`);
      if (key.address !== self && !caller.admin) throw grpcError(status.PERMISSION_DENIED, "only an admin may revoke another address's key");
      auth.store.revokeApiKey(request.id);
      return {};
    }),
    whoAmI: unary(auth, "WhoAmI", (_request: authV1.WhoAmIRequest, caller): authV1.WhoAmIResponse => ({
      address: caller.identity.address,
      authMethod: caller.identity.authMethod,
      admin: caller.admin,
    })),
  };
}
