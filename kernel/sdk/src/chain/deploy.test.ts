import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { getAddress } from "viem";
import { modelRegistryAbi, modelRegistryBytecode } from "@openledger/contracts";
import { ANVIL_DEV_PRIVATE_KEYS, startAnvil, type AnvilChain } from "./anvil";
import { connectChain, type ChainClients } from "./clients";
import { deployPlatform, loadAddressBook, PLATFORM_CONTRACTS } from "./deploy";
import { platformContracts } from "./contracts";
import { contractCreation, sendIdempotent } from "./send";

describe("deployPlatform against a real anvil", () => {
  let anvil: AnvilChain;
  let clients: ChainClients;
  let dir: string;

  beforeAll(async () => {
    anvil = await startAnvil();
    clients = await connectChain({ rpcUrl: anvil.rpcUrl, privateKey: ANVIL_DEV_PRIVATE_KEYS[0] });
    dir = mkdtempSync(path.join(tmpdir(), "ol-deploy-"));
  });
  afterAll(async () => {
    await anvil?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("deploys every contract once, and a second run sends nothing and leaves the address book alone", async () => {
    const first = await deployPlatform(clients, { addressBookDir: dir });
    expect(first.transactionsSent).toBe(PLATFORM_CONTRACTS.length + 8);
    for (const name of PLATFORM_CONTRACTS) {
      const code = await clients.publicClient.getCode({ address: first.addresses[name] });
      expect(code?.length ?? 0).toBeGreaterThan(2);
    }
    const bookBefore = readFileSync(first.addressBookPath, "utf8");
    const mtimeBefore = statSync(first.addressBookPath).mtimeMs;
    const nonceBefore = await clients.publicClient.getTransactionCount({ address: clients.account.address });

    const second = await deployPlatform(clients, { addressBookDir: dir });
    expect(second.transactionsSent).toBe(0);
    expect(second.addresses).toEqual(first.addresses);
    expect(readFileSync(second.addressBookPath, "utf8")).toBe(bookBefore);
    expect(statSync(second.addressBookPath).mtimeMs).toBe(mtimeBefore);
    expect(await clients.publicClient.getTransactionCount({ address: clients.account.address })).toBe(nonceBefore);
    expect(loadAddressBook(dir, anvil.chainId)).toEqual(first.addresses);
  });

  it("wires roles: the operator anchors and settles, the governor proposes, the deployer no longer administers the timelock", async () => {
    const addresses = loadAddressBook(dir, anvil.chainId);
    const c = platformContracts(clients, addresses);
    const me = clients.account.address;
    expect(await c.datanetRegistry.read.hasRole([await c.datanetRegistry.read.ANCHORER_ROLE(), me])).toBe(true);
    expect(await c.rewardDistributor.read.hasRole([await c.rewardDistributor.read.SETTLEMENT_ROLE(), me])).toBe(true);
    expect(await c.attributionAnchor.read.hasRole([await c.attributionAnchor.read.SETTLEMENT_ROLE(), me])).toBe(true);
    expect(await c.contributionVotes.read.hasRole([await c.contributionVotes.read.SETTLEMENT_ROLE(), me])).toBe(true);
    const timelock = c.openTimelock;
    expect(await timelock.read.hasRole([await timelock.read.PROPOSER_ROLE(), addresses.OpenGovernor])).toBe(true);
    expect(await timelock.read.hasRole([await timelock.read.DEFAULT_ADMIN_ROLE(), me])).toBe(false);
    expect(await c.protocolParameters.read.owner()).toBe(addresses.OpenTimelock);
    expect(await c.agentStaking.read.owner()).toBe(addresses.OpenTimelock);
    expect(await c.openToken.read.balanceOf([me])).toBe(1_000_000_000n * 10n ** 18n);
  });

  it("refuses an address book written by another deployer, and a damaged one", async () => {
    const other = await connectChain({ rpcUrl: anvil.rpcUrl, privateKey: ANVIL_DEV_PRIVATE_KEYS[1] });
    await expect(deployPlatform(other, { addressBookDir: dir })).rejects.toThrow(/was deployed by/);
    const damagedDir = mkdtempSync(path.join(tmpdir(), "ol-deploy-damaged-"));
    try {
      const file = path.join(damagedDir, `${anvil.chainId}.json`);
      const deployer = clients.account.address;
      for (const [text, error] of [
        ["{ not json", /not valid JSON/],
        [JSON.stringify({ chainId: 1, deployer, contracts: {} }), /not an address book of chain 31337/],
        [JSON.stringify({ chainId: 31337, deployer, contracts: { OpenToken: { address: "0x12" } } }), /bad entry for OpenToken/],
      ] as const) {
        writeFileSync(file, text);
        await expect(deployPlatform(clients, { addressBookDir: damagedDir })).rejects.toThrow(error);
        expect(() => loadAddressBook(damagedDir, anvil.chainId)).toThrow(error);
      }
    } finally {
      rmSync(damagedDir, { recursive: true, force: true });
    }
  });

  it("keeps the chain in anvil's state file across a restart, so the deployment is found again", async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), "ol-anvil-state-"));
    const stateFile = path.join(stateDir, "chain.json");
    try {
      let chain = await startAnvil({ stateFile });
      const first = await deployPlatform(
        await connectChain({ rpcUrl: chain.rpcUrl, privateKey: ANVIL_DEV_PRIVATE_KEYS[0] }),
        { addressBookDir: stateDir },
      );
      expect(first.transactionsSent).toBeGreaterThan(0);
      await chain.stop();
      chain = await startAnvil({ stateFile });
      try {
        const again = await deployPlatform(
          await connectChain({ rpcUrl: chain.rpcUrl, privateKey: ANVIL_DEV_PRIVATE_KEYS[0] }),
          { addressBookDir: stateDir },
        );
        expect(again.transactionsSent).toBe(0);
        expect(again.addresses).toEqual(first.addresses);
      } finally {
        await chain.stop();
      }
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it("redeploys into the same address book when the chain behind it was thrown away", async () => {
    const fresh = await startAnvil();
    try {
      const freshClients = await connectChain({ rpcUrl: fresh.rpcUrl, privateKey: ANVIL_DEV_PRIVATE_KEYS[0] });
      // Something else is created first, at the address the book gives OpenToken on the old chain.
      const other = await sendIdempotent(freshClients, {
        label: "an unrelated contract",
        isDone: async () => false,
        request: contractCreation({ abi: modelRegistryAbi, bytecode: modelRegistryBytecode, args: [] }),
      });
      const oldBook = loadAddressBook(dir, anvil.chainId);
      expect(other.status === "confirmed" && getAddress(other.receipt.contractAddress!)).toBe(oldBook.OpenToken);

      const result = await deployPlatform(freshClients, { addressBookDir: dir });
      expect(result.transactionsSent).toBe(PLATFORM_CONTRACTS.length + 8);
      expect(result.addresses.OpenToken).not.toBe(oldBook.OpenToken);
      const token = platformContracts(freshClients, result.addresses).openToken;
      expect(await token.read.symbol()).toBe("OPEN");
      for (const name of PLATFORM_CONTRACTS) {
        const code = await freshClients.publicClient.getCode({ address: result.addresses[name] });
        expect(code?.length ?? 0).toBeGreaterThan(2);
      }
    } finally {
      await fresh.stop();
    }
  });

  it("resumes a deploy interrupted between sending a creation and its confirmation, creating nothing twice", async () => {
    const chain = await startAnvil();
    const bookDir = mkdtempSync(path.join(tmpdir(), "ol-deploy-interrupted-"));
    try {
      const c = await connectChain({ rpcUrl: chain.rpcUrl, privateKey: ANVIL_DEV_PRIVATE_KEYS[0] });
      const rpc = (method: string, params: unknown[]) => c.publicClient.request({ method: method as "eth_chainId", params: params as never });
      let sent = 0;
      const crash = new Error("process died after sending");
      await expect(
        deployPlatform(c, {
          addressBookDir: bookDir,
          onSent: async () => {
            sent++;
            if (sent === 2) await rpc("evm_setAutomine", [false]); // from here on, sent means pending
            if (sent === 3) throw crash; // the third creation is in the pool, unconfirmed
          },
        }),
      ).rejects.toBe(crash);
      setTimeout(() => void rpc("evm_setAutomine", [true]).then(() => rpc("anvil_mine", ["0x1"])), 300);
      const resumed = await deployPlatform(c, { addressBookDir: bookDir });
      expect(resumed.transactionsSent).toBe(PLATFORM_CONTRACTS.length + 8 - 3);
      expect(await c.publicClient.getTransactionCount({ address: c.account.address })).toBe(PLATFORM_CONTRACTS.length + 8);
    } finally {
      await chain.stop();
      rmSync(bookDir, { recursive: true, force: true });
    }
  });
});
