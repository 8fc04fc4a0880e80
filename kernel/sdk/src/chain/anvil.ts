// A local EVM chain for one machine and for tests: anvil, started through spawnManaged so it never
// outlives its parent. With a state file the chain survives restarts (anvil loads it at start and
// writes it on a graceful stop and every few seconds).
import { existsSync } from "node:fs";
import path from "node:path";
import { freePort, spawnManaged, type ManagedProcess } from "../process/managed";
import { findTool } from "../workflows/tools";

export interface AnvilOptions {
  /** Load the chain from this file if it exists, and keep saving it there. */
  stateFile?: string;
  /** Default: a free port on 127.0.0.1. */
  port?: number;
  /** Default 31337 (anvil's own). */
  chainId?: number;
  /** Seconds between blocks; default: a block per transaction (automine). */
  blockTimeSeconds?: number;
  /** Receives anvil's output lines. */
  onLine?: (line: string) => void;
}

export interface AnvilChain {
  readonly rpcUrl: string;
  readonly chainId: number;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/** anvil's own chain id, the default of startAnvil: the id that marks a chain as a local dev chain. */
export const ANVIL_CHAIN_ID = 31337;

/** anvil's well-known first dev account (mnemonic "test test ... junk"): funded on every anvil chain. */
export const ANVIL_DEV_PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" as const;
/** anvil's funded dev accounts 0..5, for tests that need several users. */
export const ANVIL_DEV_PRIVATE_KEYS = [
  ANVIL_DEV_PRIVATE_KEY,
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
  "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
] as const;

const ARCH: Partial<Record<string, string>> = { x64: "amd64", arm64: "arm64" };

/** The anvil executable: $OL_ANVIL_BIN, the npm platform package's binary, else .tools/bin or the PATH. */
function findAnvil(): string {
  const fromEnv = process.env.OL_ANVIL_BIN;
  if (fromEnv) return fromEnv;
  const arch = ARCH[process.arch];
  if (arch) {
    try {
      const pkg = require.resolve(`@foundry-rs/anvil-${process.platform}-${arch}/package.json`);
      const binary = path.join(path.dirname(pkg), "bin", "anvil");
      if (existsSync(binary)) return binary;
    } catch {
      /* not installed from npm: look further */
    }
  }
  return findTool("anvil");
}

export async function startAnvil(options: AnvilOptions = {}): Promise<AnvilChain> {
  const port = options.port ?? (await freePort());
  const chainId = options.chainId ?? ANVIL_CHAIN_ID;
  const args = ["--host", "127.0.0.1", "--port", String(port), "--chain-id", String(chainId)];
  if (options.stateFile) args.push("--state", options.stateFile, "--state-interval", "5");
  if (options.blockTimeSeconds !== undefined) args.push("--block-time", String(options.blockTimeSeconds));
  const managed = await spawnManaged(findAnvil(), args, {
    readyPort: port,
    readyLine: /Listening on/,
    onLine: options.onLine,
  });
  return { rpcUrl: `http://127.0.0.1:${port}`, chainId, process: managed, stop: () => managed.stop() };
}
