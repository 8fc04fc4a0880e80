// Each platform write applied twice (as a Temporal retry would) changes the chain once.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { keccak256, toHex, type Hex } from "viem";
import { ANVIL_DEV_PRIVATE_KEYS, startAnvil, type AnvilChain } from "./anvil";
import { connectChain, type ChainClients } from "./clients";
import { platformContracts } from "./contracts";
import { deployPlatform, type PlatformAddresses } from "./deploy";
import { recordTree } from "./merkle";
import { anchorContributions, anchorEpoch, createDatanet, mintContributionVotes, registerModel } from "./writes";

const hash = (text: string): Hex => keccak256(toHex(text));

describe("idempotent platform writes", () => {
  let anvil: AnvilChain;
  let operator: ChainClients;
  let addresses: PlatformAddresses;
  let dir: string;

  beforeAll(async () => {
    anvil = await startAnvil();
    dir = mkdtempSync(path.join(tmpdir(), "ol-writes-"));
    operator = await connectChain({ rpcUrl: anvil.rpcUrl, privateKey: ANVIL_DEV_PRIVATE_KEYS[0] });
    ({ addresses } = await deployPlatform(operator, { addressBookDir: dir }));
  });
  afterAll(async () => {
    await anvil?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `write` twice and returns both results and how many transactions were sent in all. */
  async function twice<T>(write: () => Promise<T>): Promise<{ results: T[]; sent: number }> {
    const nonce = () => operator.publicClient.getTransactionCount({ address: operator.account.address });
    const before = await nonce();
    const results = [await write(), await write()];
    return { results, sent: (await nonce()) - before };
  }

  it("creates a datanet and anchors a batch once", async () => {
    const created = await twice(() => createDatanet(operator, addresses, { metadataHash: hash("datanet"), uri: "ipfs://d" }));
    expect(created).toEqual({ results: [1n, 1n], sent: 1 });
    const tree = recordTree([hash("a"), hash("b"), hash("c")]);
    const batch = { datanetId: 1n, root: tree.root, count: 3n };
    expect(await twice(() => anchorContributions(operator, addresses, batch))).toEqual({ results: [0n, 0n], sent: 1 });
    const next = { datanetId: 1n, root: hash("second batch"), count: 1n };
    expect(await anchorContributions(operator, addresses, next)).toBe(1n);
  });

  it("registers a model once per adapter", async () => {
    const model = { baseModelHash: hash("base"), adapterHash: hash("adapter"), trainingSets: [{ datanetId: 1n, root: hash("set") }], pricePerCall: 5n };
    expect(await twice(() => registerModel(operator, addresses, model))).toEqual({ results: [1n, 1n], sent: 1 });
  });

  it("anchors an epoch once and refuses a different root for it", async () => {
    const anchor = { epoch: 4n, root: hash("attribution 4"), totalFees: 99n };
    const { results, sent } = await twice(() => anchorEpoch(operator, addresses, anchor));
    expect(results.map((r) => r.status)).toEqual(["confirmed", "already-done"]);
    expect(sent).toBe(1);
    await expect(anchorEpoch(operator, addresses, { ...anchor, root: hash("other") })).rejects.toThrow(/already anchored/);
  });

  it("waits for the configured number of confirmations", async () => {
    const rpc = (method: string, params: unknown[]) =>
      operator.publicClient.request({ method: method as "eth_chainId", params: params as never });
    await rpc("evm_setAutomine", [false]);
    await rpc("evm_setIntervalMining", [1]); // a block a second
    try {
      const anchor = { epoch: 5n, root: hash("attribution 5"), totalFees: 1n };
      const result = await anchorEpoch(operator, addresses, anchor, { confirmations: 3 });
      if (result.status !== "confirmed") throw new Error(`expected a new anchor, got ${result.status}`);
      expect(await operator.publicClient.getBlockNumber()).toBeGreaterThanOrEqual(result.receipt.blockNumber + 2n);
    } finally {
      await rpc("evm_setIntervalMining", [0]);
      await rpc("evm_setAutomine", [true]);
    }
  });

  it("mints contribution votes up to the cumulative amounts once", async () => {
    const accounts = await Promise.all(
      ANVIL_DEV_PRIVATE_KEYS.slice(1, 3).map((privateKey) => connectChain({ rpcUrl: anvil.rpcUrl, privateKey })),
    );
    const entries = accounts.map((c, i) => ({ account: c.account.address, cumulativeUnits: BigInt(10 * (i + 1)) }));
    const { results, sent } = await twice(() => mintContributionVotes(operator, addresses, entries));
    expect(results.map((r) => r.status)).toEqual(["confirmed", "already-done"]);
    expect(sent).toBe(1);
    const votes = platformContracts(operator, addresses).contributionVotes;
    expect(await votes.read.getVotes([entries[1].account])).toBe(20n);
  });
});
