// viem clients for one chain and one signing account.
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  type Chain,
  type Hex,
  type PrivateKeyAccount,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ANVIL_CHAIN_ID } from "./anvil";

export interface ChainClients {
  readonly chain: Chain;
  readonly account: PrivateKeyAccount;
  readonly publicClient: PublicClient<Transport, Chain>;
  readonly walletClient: WalletClient<Transport, Chain, PrivateKeyAccount>;
}

export interface ConnectOptions {
  rpcUrl: string;
  privateKey: Hex;
  /** How often to poll for receipts and blocks; default 50 ms on a local anvil chain, 1 s elsewhere. */
  pollingIntervalMs?: number;
}

export async function connectChain(options: ConnectOptions): Promise<ChainClients> {
  if (!/^0x[0-9a-fA-F]{64}$/.test(options.privateKey)) {
    throw new Error("chain: the private key must be 32 bytes of hex with a 0x prefix");
  }
  const transport = http(options.rpcUrl);
  // Writes are retried by sendIdempotent alone, after it has re-read chain state: a transport-level
  // resend of a signed transaction whose response was lost would only be refused as a duplicate.
  const writeTransport = http(options.rpcUrl, { retryCount: 0 });
  const probe = createPublicClient({ transport });
  const chainId = await probe.getChainId().catch((err: unknown) => {
    throw new Error(`chain: cannot reach ${options.rpcUrl}: ${err instanceof Error ? err.message : String(err)}`);
  });
  const chain = defineChain({
    id: chainId,
    name: chainId === ANVIL_CHAIN_ID ? "anvil" : `chain-${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [options.rpcUrl] } },
  });
  const pollingInterval = options.pollingIntervalMs ?? (chainId === ANVIL_CHAIN_ID ? 50 : 1000);
  const account = privateKeyToAccount(options.privateKey);
  return {
    chain,
    account,
    publicClient: createPublicClient({ chain, transport, pollingInterval }),
    walletClient: createWalletClient({ chain, transport: writeTransport, account, pollingInterval }),
  };
}
