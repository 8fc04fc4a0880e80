// OpenToken, DatanetRegistry, ModelRegistry and AttributionAnchor against a real anvil: every external
// write's happy path and its refusal.
import { keccak256, toHex, zeroHash, type Hex } from "viem";
import { recordTree, signPermit } from "@openledger/sdk";
import { startPlatform, type Platform } from "./fixture";

const hash = (text: string): Hex => keccak256(toHex(text));

describe("registries", () => {
  let p: Platform;
  beforeAll(async () => {
    p = await startPlatform();
  });
  afterAll(async () => {
    await p?.stop();
  });

  describe("OpenToken", () => {
    it("transfers, and refuses to move more than a balance", async () => {
      const [treasury, alice, bob] = p.users;
      await p.mined(treasury.contracts.openToken.write.transfer([alice.address, 1000n]));
      expect(await alice.contracts.openToken.read.balanceOf([alice.address])).toBe(1000n);
      await expect(alice.contracts.openToken.simulate.transfer([bob.address, 1001n])).rejects.toThrow(
        /ERC20InsufficientBalance/,
      );
    });

    it("accepts a permit signed by the owner and refuses one signed by someone else", async () => {
      const [, alice, bob] = p.users;
      const token = alice.contracts.openToken;
      const deadline = 2n ** 40n;
      const sign = async (signer: typeof alice, value: bigint) =>
        signPermit(signer.clients, {
          token: token.address,
          owner: alice.address,
          spender: bob.address,
          value,
          nonce: await token.read.nonces([alice.address]),
          deadline,
        });
      const forged = await sign(bob, 500n);
      await expect(
        bob.contracts.openToken.simulate.permit([alice.address, bob.address, 500n, deadline, forged.v, forged.r, forged.s]),
      ).rejects.toThrow(/ERC2612InvalidSigner/);
      const good = await sign(alice, 500n);
      await p.mined(
        bob.contracts.openToken.write.permit([alice.address, bob.address, 500n, deadline, good.v, good.r, good.s]),
      );
      expect(await token.read.allowance([alice.address, bob.address])).toBe(500n);
      await p.mined(bob.contracts.openToken.write.transferFrom([alice.address, bob.address, 500n]));
      expect(await token.read.balanceOf([bob.address])).toBe(500n);
    });
  });

  describe("DatanetRegistry", () => {
    const metadata = hash("datanet: medical notes");
    const records = ["record-1", "record-2", "record-3", "record-4", "record-5"].map(hash);
    const tree = recordTree(records);

    it("creates a datanet owned by its creator, once per metadata hash", async () => {
      const [, alice, bob] = p.users;
      await p.mined(alice.contracts.datanetRegistry.write.createDatanet([metadata, "ipfs://medical"]));
      const registry = alice.contracts.datanetRegistry;
      expect(await registry.read.datanetIdOf([metadata])).toBe(1n);
      const datanet = await registry.read.getDatanet([1n]);
      expect(datanet.owner).toBe(alice.address);
      expect(datanet.uri).toBe("ipfs://medical");
      const events = await registry.getEvents.DatanetCreated({}, { fromBlock: 0n });
      expect(events.map((e) => e.args.datanetId)).toEqual([1n]);
      await expect(bob.contracts.datanetRegistry.simulate.createDatanet([metadata, "x"])).rejects.toThrow(/DatanetExists/);
      await expect(bob.contracts.datanetRegistry.simulate.createDatanet([zeroHash, "x"])).rejects.toThrow(
        /EmptyMetadataHash/,
      );
    });

    it("lets only the owner add and remove validators", async () => {
      const [, alice, bob, carol] = p.users;
      await expect(bob.contracts.datanetRegistry.simulate.addValidator([1n, bob.address])).rejects.toThrow(
        /NotDatanetOwner/,
      );
      await p.mined(alice.contracts.datanetRegistry.write.addValidator([1n, carol.address]));
      expect(await alice.contracts.datanetRegistry.read.isValidator([1n, carol.address])).toBe(true);
      await expect(bob.contracts.datanetRegistry.simulate.removeValidator([1n, carol.address])).rejects.toThrow(
        /NotDatanetOwner/,
      );
      await p.mined(alice.contracts.datanetRegistry.write.removeValidator([1n, carol.address]));
      expect(await alice.contracts.datanetRegistry.read.isValidator([1n, carol.address])).toBe(false);
      await expect(alice.contracts.datanetRegistry.simulate.addValidator([9n, carol.address])).rejects.toThrow(
        /UnknownDatanet/,
      );
      const removed = await alice.contracts.datanetRegistry.getEvents.ValidatorRemoved({}, { fromBlock: 0n });
      expect(removed.map((e) => e.args.validator)).toEqual([carol.address]);
    });

    it("anchors a batch root only for the anchoring role, and each root once", async () => {
      const [operator, alice] = p.users;
      await expect(
        alice.contracts.datanetRegistry.simulate.anchorContributions([1n, tree.root, BigInt(records.length)]),
      ).rejects.toThrow(/AccessControlUnauthorizedAccount/);
      await p.mined(operator.contracts.datanetRegistry.write.anchorContributions([1n, tree.root, BigInt(records.length)]));
      const batch = await operator.contracts.datanetRegistry.read.getBatch([1n, 0n]);
      expect(batch.root).toBe(tree.root);
      expect(batch.count).toBe(5n);
      expect(await operator.contracts.datanetRegistry.read.findBatch([1n, tree.root])).toEqual([true, 0n]);
      await expect(
        operator.contracts.datanetRegistry.simulate.anchorContributions([1n, tree.root, 5n]),
      ).rejects.toThrow(/RootAlreadyAnchored/);
      const anchored = await operator.contracts.datanetRegistry.getEvents.ContributionsAnchored({}, { fromBlock: 0n });
      expect(anchored.map((e) => [e.args.batchIndex, e.args.root, e.args.totalRecords])).toEqual([[0n, tree.root, 5n]]);
    });

    it("verifies an off-chain proof of a contribution on chain, and rejects a record that is not in the batch", async () => {
      const registry = p.users[0].contracts.datanetRegistry;
      for (const record of records) {
        expect(await registry.read.verifyRecord([1n, 0n, record, tree.proof(record)])).toBe(true);
      }
      expect(await registry.read.verifyRecord([1n, 0n, hash("forged"), tree.proof(records[0])])).toBe(false);
      expect(await registry.read.verifyRecord([1n, 1n, records[0], tree.proof(records[0])])).toBe(false);
    });
  });

  describe("ModelRegistry", () => {
    const base = hash("SmolLM2-135M-Instruct");
    const adapter = hash("adapter v1");

    it("registers a model as an ERC-721 owned by its developer, once per adapter", async () => {
      const [, alice, bob] = p.users;
      const trainingSets = [{ datanetId: 1n, root: hash("snapshot") }];
      await p.mined(bob.contracts.modelRegistry.write.registerModel([base, adapter, trainingSets, 10n ** 15n]));
      const registry = bob.contracts.modelRegistry;
      expect(await registry.read.ownerOf([1n])).toBe(bob.address);
      const model = await registry.read.getModel([1n]);
      expect(model).toMatchObject({ baseModelHash: base, adapterHash: adapter, developer: bob.address, pricePerCall: 10n ** 15n });
      expect(await registry.read.trainingSetsOf([1n])).toEqual(trainingSets);
      await expect(alice.contracts.modelRegistry.simulate.registerModel([base, adapter, [], 1n])).rejects.toThrow(
        /AdapterAlreadyRegistered/,
      );
      await expect(alice.contracts.modelRegistry.simulate.registerModel([zeroHash, hash("a2"), [], 1n])).rejects.toThrow(
        /EmptyHash/,
      );
    });

    it("moves price control with the token: after a transfer the new owner sets the price, the old one cannot", async () => {
      const [, alice, bob] = p.users;
      await p.mined(bob.contracts.modelRegistry.write.registerModel([base, hash("adapter v2"), [], 5n]));
      await p.mined(bob.contracts.modelRegistry.write.transferFrom([bob.address, alice.address, 2n]));
      await expect(bob.contracts.modelRegistry.simulate.setPrice([2n, 1n])).rejects.toThrow(/NotModelOwner/);
      await p.mined(alice.contracts.modelRegistry.write.setPrice([2n, 9n]));
      const model = await alice.contracts.modelRegistry.read.getModel([2n]);
      expect([model.pricePerCall, model.developer]).toEqual([9n, bob.address]);
    });

    it("lets only the owner change the price or deprecate, and freezes a deprecated model", async () => {
      const [, alice, bob] = p.users;
      await expect(alice.contracts.modelRegistry.simulate.setPrice([1n, 1n])).rejects.toThrow(/NotModelOwner/);
      await p.mined(bob.contracts.modelRegistry.write.setPrice([1n, 7n]));
      expect((await bob.contracts.modelRegistry.read.getModel([1n])).pricePerCall).toBe(7n);
      await expect(alice.contracts.modelRegistry.simulate.deprecate([1n])).rejects.toThrow(/NotModelOwner/);
      await p.mined(bob.contracts.modelRegistry.write.deprecate([1n]));
      expect((await bob.contracts.modelRegistry.read.getModel([1n])).deprecated).toBe(true);
      await expect(bob.contracts.modelRegistry.simulate.setPrice([1n, 8n])).rejects.toThrow(/ModelIsDeprecated/);
      await expect(bob.contracts.modelRegistry.simulate.setPrice([99n, 8n])).rejects.toThrow(/UnknownModel/);
    });
  });

  describe("roles", () => {
    it("lets only the admin grant roles", async () => {
      const [operator, alice] = p.users;
      const role = await operator.contracts.datanetRegistry.read.ANCHORER_ROLE();
      await expect(alice.contracts.datanetRegistry.simulate.grantRole([role, alice.address])).rejects.toThrow(
        /AccessControlUnauthorizedAccount/,
      );
      await p.mined(operator.contracts.datanetRegistry.write.grantRole([role, alice.address]));
      expect(await operator.contracts.datanetRegistry.read.hasRole([role, alice.address])).toBe(true);
      await p.mined(operator.contracts.datanetRegistry.write.revokeRole([role, alice.address]));
      expect(await operator.contracts.datanetRegistry.read.hasRole([role, alice.address])).toBe(false);
    });
  });

  describe("AttributionAnchor", () => {
    it("anchors an epoch once, only for the settlement role", async () => {
      const [operator, alice] = p.users;
      const root = hash("epoch 1 attribution");
      await expect(alice.contracts.attributionAnchor.simulate.anchor([1n, root, 5000n])).rejects.toThrow(
        /AccessControlUnauthorizedAccount/,
      );
      await p.mined(operator.contracts.attributionAnchor.write.anchor([1n, root, 5000n]));
      expect(await operator.contracts.attributionAnchor.read.rootOf([1n])).toBe(root);
      await expect(operator.contracts.attributionAnchor.simulate.anchor([1n, hash("other"), 1n])).rejects.toThrow(
        /EpochAlreadyAnchored/,
      );
      const events = await operator.contracts.attributionAnchor.getEvents.EpochAnchored({}, { fromBlock: 0n });
      expect(events.map((e) => [e.args.epoch, e.args.root, e.args.totalFees])).toEqual([[1n, root, 5000n]]);
    });
  });
});
