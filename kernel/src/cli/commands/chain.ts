// `ol chain ...`: the platform's contracts on an EVM chain.
//   ol chain deploy [--rpc URL] [--key HEX] [--address-book-dir DIR] [--confirmations N] [--json]
// Deploys (or finishes deploying) every contract and writes contracts/deployments/<chainId>.json.
// Idempotent: on a chain where the deployment is complete it sends nothing and changes nothing.
// The key comes from --key or $OL_CHAIN_PRIVATE_KEY; on a local anvil (chain 31337) anvil's first
// dev account is used when neither is given. --rpc defaults to $OL_CHAIN_RPC_URL, --address-book-dir
// to $OL_CHAIN_ADDRESS_BOOK_DIR (the variables the kernel gives plugins).
import { Command, InvalidArgumentError } from "commander";
import type { Hex } from "viem";
import { ANVIL_CHAIN_ID, ANVIL_DEV_PRIVATE_KEY, connectChain, deployPlatform } from "@openledger/sdk";
import { runVerbInProcess, type CliOutput } from "./in-process";

export const DEFAULT_RPC_URL = "http://127.0.0.1:8545";

export type ChainCliOutput = CliOutput;

interface DeployCliOptions {
  rpc: string;
  key?: string;
  addressBookDir?: string;
  confirmations: number;
  json?: boolean;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a whole number of at least 1");
  return n;
}

async function deploy(options: DeployCliOptions, out: ChainCliOutput): Promise<void> {
  const key = options.key ?? process.env.OL_CHAIN_PRIVATE_KEY;
  const clients = await connectChain({ rpcUrl: options.rpc, privateKey: (key ?? ANVIL_DEV_PRIVATE_KEY) as Hex });
  if (!key && clients.chain.id !== ANVIL_CHAIN_ID) {
    throw new Error(`chain ${clients.chain.id} is not a local anvil: pass --key or set OL_CHAIN_PRIVATE_KEY`);
  }
  const result = await deployPlatform(clients, {
    addressBookDir: options.addressBookDir,
    confirmations: options.confirmations,
  });
  if (options.json) {
    out.write(`${JSON.stringify(result)}\n`);
    return;
  }
  out.write(`chain ${clients.chain.id}: ${result.transactionsSent} transaction(s) sent; address book ${result.addressBookPath}\n`);
  for (const [name, address] of Object.entries(result.addresses)) out.write(`  ${name.padEnd(20)} ${address}\n`);
}

export function registerChain(program: Command, out: ChainCliOutput = process.stdout): void {
  const chain = program.command("chain").description("the platform's contracts on an EVM chain");
  chain
    .command("deploy")
    .description("deploy the contracts idempotently and write contracts/deployments/<chainId>.json")
    .option("--rpc <url>", "JSON-RPC endpoint", process.env.OL_CHAIN_RPC_URL ?? DEFAULT_RPC_URL)
    .option("--key <hex>", "deployer private key (default $OL_CHAIN_PRIVATE_KEY; anvil's dev key on chain 31337)")
    .option(
      "--address-book-dir <dir>",
      "where <chainId>.json is written (default $OL_CHAIN_ADDRESS_BOOK_DIR, else contracts/deployments)",
      process.env.OL_CHAIN_ADDRESS_BOOK_DIR,
    )
    .option("--confirmations <n>", "blocks to wait for each transaction", positiveInteger, 1)
    .option("--json", "print {addressBookPath, addresses, transactionsSent}")
    .action(async (options: DeployCliOptions) => deploy(options, out));
}

export function register(program: Command): void {
  registerChain(program);
}

/** Runs `ol chain <args>` in this process (tests; the `ol` binary uses register()). */
export function runChainCli(args: readonly string[], out: ChainCliOutput): Promise<void> {
  return runVerbInProcess("chain", registerChain, args, out);
}
