// Idempotent deployment of the platform's contracts. Progress is kept in an address book
// (contracts/deployments/<chainId>.json): an entry is written as soon as a creation transaction is
// sent (its address follows from the deployer's nonce), so a deploy interrupted at any point resumes
// without creating a contract twice. Every transaction goes through sendIdempotent; re-running a
// finished deployment sends nothing and leaves the address book untouched.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  getContractAddress,
  isAddress,
  keccak256,
  parseAbi,
  toHex,
  TransactionReceiptNotFoundError,
  zeroAddress,
  type Abi,
  type Address,
  type Hash,
  type Hex,
} from "viem";
import * as artifacts from "@openledger/contracts";
import type { ChainClients } from "./clients";
import { contractCall, contractCreation, sendIdempotent, type SendOptions } from "./send";

export const PLATFORM_CONTRACTS = [
  "OpenToken",
  "DatanetRegistry",
  "ModelRegistry",
  "AttributionAnchor",
  "RewardDistributor",
  "ContributionVotes",
  "OpenTimelock",
  "OpenGovernor",
  "ProtocolParameters",
  "AgentStaking",
] as const;
export type PlatformContractName = (typeof PLATFORM_CONTRACTS)[number];
export type PlatformAddresses = Record<PlatformContractName, Address>;

export interface DeployedContract {
  address: Address;
  transactionHash: Hash;
}

export interface AddressBook {
  chainId: number;
  deployer: Address;
  contracts: Partial<Record<PlatformContractName, DeployedContract>>;
}

export interface PlatformDeployConfig {
  /** OPEN minted once to the deployer (the treasury), in wei. */
  tokenSupply: bigint;
  votingDelayBlocks: number;
  votingPeriodBlocks: number;
  quorumPercent: number;
  timelockDelaySeconds: number;
  feeSplitBps: { model: number; data: number; protocol: number };
  penaltiesBps: { rejection: number; maliciousForfeit: number };
  unbondingDelaySeconds: number;
  /** Holds the platform's roles (anchoring, settlement); default: the deployer. */
  operator?: Address;
}

const DEFAULT_DEPLOY_CONFIG: PlatformDeployConfig = {
  tokenSupply: 1_000_000_000n * 10n ** 18n,
  votingDelayBlocks: 1,
  votingPeriodBlocks: 50_400, // about a week of 12 s blocks
  quorumPercent: 4,
  timelockDelaySeconds: 2 * 24 * 3600,
  feeSplitBps: { model: 4000, data: 5000, protocol: 1000 },
  penaltiesBps: { rejection: 500, maliciousForfeit: 10_000 },
  unbondingDelaySeconds: 7 * 24 * 3600,
};

export interface DeployOptions extends Pick<SendOptions, "confirmations" | "maxAttempts" | "onSent"> {
  /** Where <chainId>.json lives; default contracts/deployments of this repository. */
  addressBookDir?: string;
  config?: Partial<PlatformDeployConfig>;
}

export interface DeployResult {
  addressBookPath: string;
  addresses: PlatformAddresses;
  /** Transactions this run sent (0 when everything was already deployed and configured). */
  transactionsSent: number;
}

/** keccak256 of a role's name, as OpenZeppelin AccessControl contracts define their roles. */
const roleId = (name: string): Hex => keccak256(toHex(name));
export const ANCHORER_ROLE = roleId("ANCHORER_ROLE");
export const SETTLEMENT_ROLE = roleId("SETTLEMENT_ROLE");
const DEFAULT_ADMIN_ROLE: Hex = `0x${"00".repeat(32)}`;
const PROPOSER_ROLE = roleId("PROPOSER_ROLE");
const CANCELLER_ROLE = roleId("CANCELLER_ROLE");

const accessControlAbi = parseAbi([
  "function hasRole(bytes32 role, address account) view returns (bool)",
  "function grantRole(bytes32 role, address account)",
  "function renounceRole(bytes32 role, address callerConfirmation)",
]);

const ARTIFACTS: Record<PlatformContractName, { abi: Abi; bytecode: Hex }> = {
  OpenToken: { abi: artifacts.openTokenAbi, bytecode: artifacts.openTokenBytecode },
  DatanetRegistry: { abi: artifacts.datanetRegistryAbi, bytecode: artifacts.datanetRegistryBytecode },
  ModelRegistry: { abi: artifacts.modelRegistryAbi, bytecode: artifacts.modelRegistryBytecode },
  AttributionAnchor: { abi: artifacts.attributionAnchorAbi, bytecode: artifacts.attributionAnchorBytecode },
  RewardDistributor: { abi: artifacts.rewardDistributorAbi, bytecode: artifacts.rewardDistributorBytecode },
  ContributionVotes: { abi: artifacts.contributionVotesAbi, bytecode: artifacts.contributionVotesBytecode },
  OpenTimelock: { abi: artifacts.openTimelockAbi, bytecode: artifacts.openTimelockBytecode },
  OpenGovernor: { abi: artifacts.openGovernorAbi, bytecode: artifacts.openGovernorBytecode },
  ProtocolParameters: { abi: artifacts.protocolParametersAbi, bytecode: artifacts.protocolParametersBytecode },
  AgentStaking: { abi: artifacts.agentStakingAbi, bytecode: artifacts.agentStakingBytecode },
};

/** contracts/deployments of the repository this file belongs to. */
function defaultAddressBookDir(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "contracts", "package.json"))) return path.join(dir, "contracts", "deployments");
  }
  throw new Error("chain: cannot find the repository's contracts/ folder; pass addressBookDir");
}

export function addressBookPath(dir: string, chainId: number): string {
  return path.join(dir, `${chainId}.json`);
}

function serialise(book: AddressBook): string {
  return `${JSON.stringify(book, null, 2)}\n`;
}

function readAddressBook(file: string, chainId: number): AddressBook | undefined {
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`chain: ${file} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const book = parsed as Partial<AddressBook> | null;
  if (
    typeof book !== "object" ||
    book === null ||
    book.chainId !== chainId ||
    typeof book.deployer !== "string" ||
    typeof book.contracts !== "object" ||
    book.contracts === null
  ) {
    throw new Error(`chain: ${file} is not an address book of chain ${chainId}`);
  }
  for (const [name, entry] of Object.entries(book.contracts)) {
    const known = (PLATFORM_CONTRACTS as readonly string[]).includes(name);
    if (!known || !isAddress(String(entry?.address)) || !/^0x[0-9a-fA-F]{64}$/.test(String(entry?.transactionHash))) {
      throw new Error(`chain: ${file} has a bad entry for ${name}`);
    }
  }
  return book as AddressBook;
}

/** The addresses of a complete deployment, or a clear error naming what is missing. */
export function loadAddressBook(dir: string, chainId: number): PlatformAddresses {
  const file = addressBookPath(dir, chainId);
  const book = readAddressBook(file, chainId);
  if (!book) throw new Error(`chain: no address book at ${file}; run \`ol chain deploy\``);
  const missing = PLATFORM_CONTRACTS.filter((name) => !book.contracts[name]);
  if (missing.length > 0) throw new Error(`chain: ${file} lacks ${missing.join(", ")}; run \`ol chain deploy\``);
  const entries = PLATFORM_CONTRACTS.map((name) => [name, book.contracts[name]!.address]);
  return Object.fromEntries(entries) as PlatformAddresses;
}

export async function deployPlatform(clients: ChainClients, options: DeployOptions = {}): Promise<DeployResult> {
  const { publicClient, account } = clients;
  const config = { ...DEFAULT_DEPLOY_CONFIG, ...options.config };
  const operator = config.operator ?? account.address;
  const dir = options.addressBookDir ?? defaultAddressBookDir();
  const file = addressBookPath(dir, clients.chain.id);
  const book: AddressBook = readAddressBook(file, clients.chain.id) ?? {
    chainId: clients.chain.id,
    deployer: account.address,
    contracts: {},
  };
  if (book.deployer.toLowerCase() !== account.address.toLowerCase()) {
    throw new Error(`chain: ${file} was deployed by ${book.deployer}, not by ${account.address}`);
  }
  const save = () => {
    const text = serialise(book);
    if (existsSync(file) && readFileSync(file, "utf8") === text) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  let transactionsSent = 0;
  const sendOptions: SendOptions = {
    confirmations: options.confirmations,
    maxAttempts: options.maxAttempts,
  };
  const countSent = async (sent: { hash: Hash; nonce: number }) => {
    transactionsSent++;
    await options.onSent?.(sent);
  };

  const deploy = async (name: PlatformContractName, args: readonly unknown[]): Promise<Address> => {
    await sendIdempotent(
      clients,
      {
        label: `deploy ${name}`,
        // Done when this chain holds our creation transaction's receipt for that address: code alone
        // could belong to something else created at the same address on a chain that was reset.
        isDone: async () => {
          const entry = book.contracts[name];
          if (!entry) return false;
          const receipt = await publicClient
            .getTransactionReceipt({ hash: entry.transactionHash })
            .catch((err: unknown) => {
              if (err instanceof TransactionReceiptNotFoundError) return undefined;
              throw err;
            });
          const created = receipt?.status === "success" ? receipt.contractAddress : undefined;
          return created?.toLowerCase() === entry.address.toLowerCase();
        },
        request: contractCreation({ ...ARTIFACTS[name], args }),
      },
      {
        ...sendOptions,
        onSent: async (sent) => {
          const address = getContractAddress({ from: account.address, nonce: BigInt(sent.nonce) });
          book.contracts[name] = { address, transactionHash: sent.hash };
          save();
          await countSent(sent);
        },
      },
    );
    return book.contracts[name]!.address;
  };

  const grantRole = (label: string, address: Address, role: Hex, to: Address) =>
    sendIdempotent(
      clients,
      {
        label,
        isDone: () =>
          publicClient.readContract({ address, abi: accessControlAbi, functionName: "hasRole", args: [role, to] }),
        request: contractCall({ address, abi: accessControlAbi, functionName: "grantRole", args: [role, to] }),
      },
      { ...sendOptions, onSent: countSent },
    );

  const token = await deploy("OpenToken", [account.address, config.tokenSupply]);
  const datanets = await deploy("DatanetRegistry", [account.address]);
  await deploy("ModelRegistry", []);
  const attribution = await deploy("AttributionAnchor", [account.address]);
  const rewards = await deploy("RewardDistributor", [token, account.address]);
  await sendIdempotent(
    clients,
    {
      label: "bind RewardDistributor as OpenToken's reward payer",
      isDone: async () =>
        (await publicClient.readContract({ address: token, abi: artifacts.openTokenAbi, functionName: "rewardDistributor" })).toLowerCase() ===
        rewards.toLowerCase(),
      request: contractCall({ address: token, abi: artifacts.openTokenAbi, functionName: "bindRewardDistributor", args: [rewards] }),
    },
    { ...sendOptions, onSent: countSent },
  );
  const votes = await deploy("ContributionVotes", [account.address]);
  const timelockArgs = [BigInt(config.timelockDelaySeconds), [], [zeroAddress], account.address];
  const timelock = await deploy("OpenTimelock", timelockArgs);
  const governor = await deploy("OpenGovernor", [
    votes,
    timelock,
    config.votingDelayBlocks,
    config.votingPeriodBlocks,
    BigInt(config.quorumPercent),
  ]);
  const { model, data, protocol } = config.feeSplitBps;
  const { rejection, maliciousForfeit } = config.penaltiesBps;
  await deploy("ProtocolParameters", [timelock, model, data, protocol, rejection, maliciousForfeit]);
  await deploy("AgentStaking", [token, timelock, BigInt(config.unbondingDelaySeconds)]);

  await grantRole("grant ANCHORER_ROLE on DatanetRegistry", datanets, ANCHORER_ROLE, operator);
  await grantRole("grant SETTLEMENT_ROLE on AttributionAnchor", attribution, SETTLEMENT_ROLE, operator);
  await grantRole("grant SETTLEMENT_ROLE on RewardDistributor", rewards, SETTLEMENT_ROLE, operator);
  await grantRole("grant SETTLEMENT_ROLE on ContributionVotes", votes, SETTLEMENT_ROLE, operator);
  await grantRole("let the governor propose to the timelock", timelock, PROPOSER_ROLE, governor);
  await grantRole("let the governor cancel on the timelock", timelock, CANCELLER_ROLE, governor);
  // Last: from here on only governance administers the timelock.
  await sendIdempotent(
    clients,
    {
      label: "renounce the deployer's timelock admin role",
      isDone: async () =>
        !(await publicClient.readContract({
          address: timelock,
          abi: accessControlAbi,
          functionName: "hasRole",
          args: [DEFAULT_ADMIN_ROLE, account.address],
        })),
      request: contractCall({
        address: timelock,
        abi: accessControlAbi,
        functionName: "renounceRole",
        args: [DEFAULT_ADMIN_ROLE, account.address],
      }),
    },
    { ...sendOptions, onSent: countSent },
  );
  save();
  return { addressBookPath: file, addresses: loadAddressBook(dir, clients.chain.id), transactionsSent };
}
