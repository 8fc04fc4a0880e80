// sendIdempotent: the one way the platform writes to a chain. Temporal retries activities and
// processes die between sending and confirming, so every write is described together with a read
// that tells whether its effect is already on chain. For each attempt:
//   1. wait until this account has no transaction in flight (pending nonce == mined nonce), so the
//      state read next includes whatever an earlier, interrupted attempt sent;
//   2. read chain state: if the effect is there, send nothing;
//   3. simulate (a revert becomes a clear, permanent error), send with the account's next nonce,
//      wait for the configured number of confirmations.
// Transient RPC failures (network, timeouts, rate limits, lost receipts) restart the attempt after a
// backoff; writes from one account in this process are serialised so their nonces never collide.
import {
  BaseError,
  FeeCapTooLowError,
  HttpRequestError,
  LimitExceededRpcError,
  NonceTooLowError,
  ResourceUnavailableRpcError,
  SocketClosedError,
  TimeoutError,
  TransactionReceiptNotFoundError,
  WaitForTransactionReceiptTimeoutError,
  decodeErrorResult,
  encodeDeployData,
  encodeFunctionData,
  type Abi,
  type Address,
  type ContractFunctionArgs,
  type ContractFunctionName,
  type EncodeDeployDataParameters,
  type EncodeFunctionDataParameters,
  type Hash,
  type Hex,
  type TransactionReceipt,
} from "viem";
import type { ChainClients } from "./clients";

/** An encoded transaction: a call (`to` set) or a contract creation (`to` absent). */
export interface WriteRequest {
  readonly to?: Address;
  readonly data: Hex;
  /** Used to decode a revert into its custom error's name and arguments. */
  readonly abi: Abi;
}

type WriteFunctionName<abi extends Abi> = ContractFunctionName<abi, "nonpayable" | "payable">;

/** A typed contract call, checked against the ABI by TypeScript. */
export function contractCall<const abi extends Abi, functionName extends WriteFunctionName<abi>>(call: {
  address: Address;
  abi: abi;
  functionName: functionName;
  args: ContractFunctionArgs<abi, "nonpayable" | "payable", functionName>;
}): WriteRequest {
  const { address, abi, functionName, args } = call;
  const data = encodeFunctionData({ abi, functionName, args } as unknown as EncodeFunctionDataParameters);
  return { to: address, data, abi };
}

/** A contract creation from an ABI, its bytecode and constructor arguments. */
export function contractCreation(creation: { abi: Abi; bytecode: Hex; args: readonly unknown[] }): WriteRequest {
  const data = encodeDeployData(creation as unknown as EncodeDeployDataParameters);
  return { data, abi: creation.abi };
}

export interface IdempotentWrite {
  /** What the write does, for errors and logs ("anchor epoch 7"). */
  label: string;
  /** Reads chain state: true when the write's effect is already there. */
  isDone: () => Promise<boolean>;
  request: WriteRequest;
}

export interface SendOptions {
  /** Blocks that must include and follow the transaction; default 1 (included). */
  confirmations?: number;
  /** Attempts before a transient failure is given up on; default 5. */
  maxAttempts?: number;
  /** First backoff after a transient failure, doubled each time; default 200 ms. */
  retryDelayMs?: number;
  /** How long to wait for this account's earlier in-flight transactions; default 60 s. */
  pendingTimeoutMs?: number;
  /** How long to wait for a receipt before re-checking from step 1; default 120 s. */
  receiptTimeoutMs?: number;
  /** Called once a transaction has been handed to the node, before it is confirmed. */
  onSent?: (sent: { hash: Hash; nonce: number }) => void | Promise<void>;
}

export type SendResult =
  | { status: "already-done" }
  | { status: "confirmed"; hash: Hash; nonce: number; receipt: TransactionReceipt };

/** A write that cannot succeed by retrying (a revert, a stuck account, exhausted attempts). */
export class ChainWriteError extends Error {
  override readonly name = "ChainWriteError";
}

const accountQueues = new Map<string, Promise<unknown>>();

function serialised<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = accountQueues.get(key) ?? Promise.resolve();
  const run = previous.then(task, task);
  const tail = run.catch(() => undefined);
  accountQueues.set(key, tail);
  void tail.then(() => {
    if (accountQueues.get(key) === tail) accountQueues.delete(key);
  });
  return run;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Includes the node refusing our nonce or fee: another writer of the same account (another process)
// or a fee spike; the next attempt re-reads state, nonce and fees.
const TRANSIENT_ERRORS = [
  FeeCapTooLowError,
  HttpRequestError,
  TimeoutError,
  SocketClosedError,
  WaitForTransactionReceiptTimeoutError,
  TransactionReceiptNotFoundError,
  NonceTooLowError,
  LimitExceededRpcError,
  ResourceUnavailableRpcError,
];

/** True for failures of the transport or the node that a later attempt may not meet. */
function isTransientChainError(err: unknown): boolean {
  if (err instanceof ChainWriteError) return false;
  if (err instanceof BaseError) {
    const transient = (e: unknown) =>
      TRANSIENT_ERRORS.some((kind) => e instanceof kind) || /underpriced/i.test((e as Error).message ?? "");
    return err.walk(transient) !== null;
  }
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE"].includes(code);
}

/** The custom error (name and arguments) a revert carries, or the node's message. */
function describeRevert(err: unknown, abi: Abi): string {
  if (!(err instanceof BaseError)) return err instanceof Error ? err.message : String(err);
  const withData = err.walk((e) => typeof (e as { data?: unknown }).data === "string");
  const data = (withData as { data?: unknown } | null)?.data;
  if (typeof data === "string" && data.startsWith("0x") && data.length >= 10) {
    try {
      const decoded = decodeErrorResult({ abi, data: data as Hex });
      const args = (decoded.args ?? []).map((a) => String(a)).join(", ");
      return `${decoded.errorName}(${args})`;
    } catch {
      return `revert data ${data}`;
    }
  }
  return err.shortMessage;
}

async function waitForIdleAccount(clients: ChainClients, timeoutMs: number): Promise<void> {
  const { publicClient, account } = clients;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [mined, pending] = await Promise.all([
      publicClient.getTransactionCount({ address: account.address, blockTag: "latest" }),
      publicClient.getTransactionCount({ address: account.address, blockTag: "pending" }),
    ]);
    if (pending <= mined) return;
    if (Date.now() > deadline) {
      throw new ChainWriteError(
        `${pending - mined} transaction(s) of ${account.address} stayed pending for ${timeoutMs} ms; ` +
          `they must be mined or replaced before another write`,
      );
    }
    await sleep(publicClient.pollingInterval);
  }
}

async function attempt(clients: ChainClients, write: IdempotentWrite, options: SendOptions): Promise<SendResult> {
  const { publicClient, walletClient, account } = clients;
  await waitForIdleAccount(clients, options.pendingTimeoutMs ?? 60_000);
  if (await write.isDone()) return { status: "already-done" };
  const { to, data, abi } = write.request;
  let gas: bigint;
  try {
    gas = await publicClient.estimateGas({ account, to, data });
  } catch (err) {
    if (isTransientChainError(err)) throw err;
    // Another writer (another process with the same key) may have applied it since the check.
    if (await write.isDone()) return { status: "already-done" };
    throw new ChainWriteError(`${write.label}: refused by the chain: ${describeRevert(err, abi)}`);
  }
  const nonce = await publicClient.getTransactionCount({ address: account.address, blockTag: "pending" });
  // Headroom over the estimate: state may move between estimate and inclusion.
  const hash = await walletClient.sendTransaction({ to, data, nonce, gas: (gas * 12n) / 10n });
  await options.onSent?.({ hash, nonce });
  const receipt = await publicClient.waitForTransactionReceipt({
    hash,
    confirmations: options.confirmations ?? 1,
    timeout: options.receiptTimeoutMs ?? 120_000,
  });
  if (receipt.status === "success") return { status: "confirmed", hash, nonce, receipt };
  // Reverted on chain although the simulation passed: someone else may have applied the effect.
  if (await write.isDone()) return { status: "already-done" };
  throw new ChainWriteError(`${write.label}: transaction ${hash} reverted`);
}

export function sendIdempotent(
  clients: ChainClients,
  write: IdempotentWrite,
  options: SendOptions = {},
): Promise<SendResult> {
  const key = `${clients.chain.id}:${clients.account.address.toLowerCase()}`;
  return serialised(key, async () => {
    const maxAttempts = options.maxAttempts ?? 5;
    let delay = options.retryDelayMs ?? 200;
    for (let n = 1; ; n++) {
      try {
        return await attempt(clients, write, options);
      } catch (err) {
        if (!isTransientChainError(err)) throw err;
        if (n >= maxAttempts) {
          const reason = err instanceof BaseError ? err.shortMessage : String(err);
          throw new ChainWriteError(`${write.label}: gave up after ${n} attempts: ${reason}`);
        }
        await sleep(delay);
        delay *= 2;
      }
    }
  });
}
