// Who is calling: turns a call's metadata into a verified Identity (API key, SIWE session, or
// anonymous for a public method) and signs people in with Sign-In with Ethereum (EIP-4361).
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { RESERVED_HEADER_PREFIX, type Identity } from "@openledger/sdk";
import { SiweMessage } from "siwe";
import { recoverMessageAddress, type Hex } from "viem";
import type { Authenticator, PluginDirectory } from "../types";
import { API_KEY_PREFIX, CredentialError, CredentialStore, SESSION_PREFIX, type Session } from "./credentials";

/** Kernel methods callable without credentials. */
export const KERNEL_PUBLIC_METHODS: readonly string[] = [
  "/openledger.kernel.v1.AuthService/GetNonce",
  "/openledger.kernel.v1.AuthService/SignIn",
];

/** Services every gRPC tool needs before it has credentials. */
const PUBLIC_SERVICES = ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

/**
 * Public methods: the kernel's own, health and reflection, and every method a plugin lists in its
 * manifest's publicMethods (read from the directory at each call, so plugins may come and go).
 */
export function publicMethodsOf(directory?: Pick<PluginDirectory, "findByService">): (method: string) => boolean {
  return (method) => {
    if (KERNEL_PUBLIC_METHODS.includes(method)) return true;
    const service = method.split("/")[1] ?? "";
    if (PUBLIC_SERVICES.includes(service)) return true;
    return directory?.findByService(service)?.publicMethods.includes(method) ?? false;
  };
}

export interface Caller {
  identity: Identity;
  admin: boolean;
}

export interface KernelAuthOptions {
  store: CredentialStore;
  /** Addresses with admin rights, in addition to admin API keys. */
  admins: readonly string[];
  isPublic: (method: string) => boolean;
  siwe: { domain: string; uri: string; chainId: number };
  sessionTtlMs: number;
  nonceTtlMs: number;
}

export function grpcError(code: status, message: string): ServiceError {
  return Object.assign(new Error(`${status[code]}: ${message}`), { code, details: message, metadata: new Metadata() });
}

function header(metadata: Metadata, name: string): string | undefined {
  const value = metadata.get(name)[0];
  return value === undefined ? undefined : value.toString();
}

export class KernelAuth {
  private readonly admins: Set<string>;

  constructor(private readonly options: KernelAuthOptions) {
    this.admins = new Set(options.admins.map((a) => a.toLowerCase()));
  }

  get store(): CredentialStore {
    return this.options.store;
  }

  get siwe(): KernelAuthOptions["siwe"] {
    return this.options.siwe;
  }

  /** The `Authenticator` the gateway and the HTTP layer run on every call. */
  readonly authenticate: Authenticator = async (method, metadata) => this.identify(method, metadata);

  /**
   * Admins: the configured addresses and the addresses of admin API keys (the bootstrap key's
   * address among them), whichever way they authenticated.
   */
  isAdmin(address: string): boolean {
    return address !== "" && (this.admins.has(address) || this.options.store.hasAdminKey(address));
  }

  private identify(method: string, metadata: Metadata): Identity {
    const reserved = Object.keys(metadata.getMap()).find((name) => name.toLowerCase().startsWith(RESERVED_HEADER_PREFIX));
    if (reserved) {
      throw grpcError(status.UNAUTHENTICATED, `header ${reserved} is reserved for the kernel and may not be sent by a client`);
    }
    const credential = this.credentialOf(metadata);
    if (credential === undefined) {
      if (this.options.isPublic(method)) return { address: "", authMethod: "none" };
      throw grpcError(
        status.UNAUTHENTICATED,
        `${method} needs credentials: send "authorization: Bearer <API key or session token>" or "x-api-key: <API key>"`,
      );
    }
    try {
      if (credential.startsWith(API_KEY_PREFIX)) return { address: this.options.store.verifyApiKey(credential).address, authMethod: "apikey" };
      if (credential.startsWith(SESSION_PREFIX)) return { address: this.options.store.verifySession(credential).address, authMethod: "siwe" };
    } catch (err) {
      if (err instanceof CredentialError) throw grpcError(status.UNAUTHENTICATED, err.message);
      throw err;
    }
    throw grpcError(status.UNAUTHENTICATED, `unrecognised credential (API keys start with "${API_KEY_PREFIX}", sessions with "${SESSION_PREFIX}")`);
  }

  private credentialOf(metadata: Metadata): string | undefined {
    const authorization = header(metadata, "authorization");
    if (authorization !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!match) throw grpcError(status.UNAUTHENTICATED, 'authorization header must be "Bearer <token>"');
      return match[1];
    }
    return header(metadata, "x-api-key");
  }

  issueNonce(): { nonce: string; expiresAtMs: number } {
    return this.options.store.issueNonce(this.options.nonceTtlMs);
  }

  /** Verifies a signed EIP-4361 message and opens a session. Throws UNAUTHENTICATED / INVALID_ARGUMENT. */
  async signIn(text: string, signature: string, now = Date.now()): Promise<{ token: string; session: Session }> {
    let message: SiweMessage;
    try {
      message = new SiweMessage(text);
    } catch (err) {
      throw grpcError(status.INVALID_ARGUMENT, `not an EIP-4361 message: ${err instanceof Error ? err.message : String(err)}`);
    }
    const { domain, uri, chainId } = this.options.siwe;
    const refuse = (reason: string) => grpcError(status.UNAUTHENTICATED, `sign-in refused: ${reason}`);
    if (message.domain !== domain) throw refuse(`message is for domain "${message.domain}", expected "${domain}"`);
    if (message.uri !== uri) throw refuse(`message is for URI "${message.uri}", expected "${uri}"`);
    if (message.chainId !== chainId) throw refuse(`message is for chain ${message.chainId}, expected ${chainId}`);
    if (message.expirationTime && Date.parse(message.expirationTime) < now) throw refuse("message has expired");
    if (message.notBefore && Date.parse(message.notBefore) > now) throw refuse("message is not valid yet");
    if (!/^0x[0-9a-fA-F]+$/.test(signature)) throw grpcError(status.INVALID_ARGUMENT, "signature must be 0x-prefixed hex");
    let signer: string;
    try {
      signer = await recoverMessageAddress({ message: text, signature: signature as Hex });
    } catch (err) {
      throw refuse(`signature does not recover: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
    }
    if (signer.toLowerCase() !== message.address.toLowerCase()) throw refuse(`signature is not from ${message.address}`);
    // Consumed only after the signature verifies, so a forged attempt cannot burn someone's nonce.
    if (!this.options.store.consumeNonce(message.nonce, now)) throw refuse("unknown, used or expired nonce");
    const ttl = message.expirationTime ? Math.min(this.options.sessionTtlMs, Date.parse(message.expirationTime) - now) : this.options.sessionTtlMs;
    return this.options.store.issueSession(message.address, ttl, now);
  }
}
