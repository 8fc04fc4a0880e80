// Shared setup of the contract tests: one real anvil per test file, the platform deployed on it with
// short governance delays, and clients for a few funded dev accounts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Hash } from "viem";
import {
  ANVIL_DEV_PRIVATE_KEYS,
  connectChain,
  deployPlatform,
  platformContracts,
  startAnvil,
  type AnvilChain,
  type ChainClients,
  type PlatformAddresses,
  type PlatformContracts,
  type PlatformDeployConfig,
} from "@openledger/sdk";

export const TEST_CONFIG: Partial<PlatformDeployConfig> = {
  votingDelayBlocks: 1,
  votingPeriodBlocks: 10,
  quorumPercent: 4,
  timelockDelaySeconds: 60,
  unbondingDelaySeconds: 3600,
};

export interface User {
  clients: ChainClients;
  contracts: PlatformContracts;
  address: `0x${string}`;
}

export interface Platform {
  anvil: AnvilChain;
  addresses: PlatformAddresses;
  /** users[0] deployed the platform and holds its operator roles and the OPEN supply. */
  users: User[];
  /** Waits for the transaction and fails the test unless it succeeded. */
  mined(hash: Promise<Hash>): Promise<void>;
  /** Mines `blocks` empty blocks. */
  mine(blocks: number): Promise<void>;
  /** Moves the chain's clock forward. */
  advanceTime(seconds: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startPlatform(): Promise<Platform> {
  const anvil = await startAnvil();
  const addressBookDir = mkdtempSync(path.join(tmpdir(), "ol-contracts-"));
  try {
    const deployer = await connectChain({ rpcUrl: anvil.rpcUrl, privateKey: ANVIL_DEV_PRIVATE_KEYS[0] });
    const { addresses } = await deployPlatform(deployer, { addressBookDir, config: TEST_CONFIG });
    const users: User[] = [];
    for (const privateKey of ANVIL_DEV_PRIVATE_KEYS.slice(0, 4)) {
      const clients = await connectChain({ rpcUrl: anvil.rpcUrl, privateKey });
      users.push({ clients, contracts: platformContracts(clients, addresses), address: clients.account.address });
    }
    const publicClient = deployer.publicClient;
    const rpc = (method: string, params: unknown[]) =>
      publicClient.request({ method: method as "eth_chainId", params: params as never });
    return {
      anvil,
      addresses,
      users,
      async mined(hash) {
        const receipt = await publicClient.waitForTransactionReceipt({ hash: await hash });
        expect(receipt.status).toBe("success");
      },
      async mine(blocks) {
        await rpc("anvil_mine", [`0x${blocks.toString(16)}`]);
      },
      async advanceTime(seconds) {
        await rpc("evm_increaseTime", [`0x${seconds.toString(16)}`]);
        await rpc("anvil_mine", ["0x1"]);
      },
      async stop() {
        await anvil.stop();
        rmSync(addressBookDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await anvil.stop();
    rmSync(addressBookDir, { recursive: true, force: true });
    throw err;
  }
}
