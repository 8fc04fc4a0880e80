// RewardDistributor: cumulative Merkle claims with proofs built off chain by the platform's library.
import { keccak256, toHex } from "viem";
import { rewardTree } from "@openledger/sdk";
import { startPlatform, type Platform } from "./fixture";

describe("RewardDistributor", () => {
  let p: Platform;
  beforeAll(async () => {
    p = await startPlatform();
    const [operator] = p.users;
    await p.mined(operator.contracts.openToken.write.transfer([p.addresses.RewardDistributor, 10_000n]));
  });
  afterAll(async () => {
    await p?.stop();
  });

  const balance = (i: number) => p.users[0].contracts.openToken.read.balanceOf([p.users[i].address]);

  it("publishes roots only from the settlement role, and only for later epochs", async () => {
    const [operator, alice, bob] = p.users;
    const tree = rewardTree([
      { account: alice.address, cumulativeAmount: 100n },
      { account: bob.address, cumulativeAmount: 50n },
    ]);
    await expect(alice.contracts.rewardDistributor.simulate.setRoot([1n, tree.root])).rejects.toThrow(
      /AccessControlUnauthorizedAccount/,
    );
    await p.mined(operator.contracts.rewardDistributor.write.setRoot([1n, tree.root]));
    expect(await operator.contracts.rewardDistributor.read.currentRoot()).toBe(tree.root);
    expect(await operator.contracts.rewardDistributor.read.rootOf([1n])).toBe(tree.root);
    await expect(
      operator.contracts.rewardDistributor.simulate.setRoot([1n, keccak256(toHex("another"))]),
    ).rejects.toThrow(/EpochNotAfterCurrent/);
  });

  it("pays a claim once; the same proof again pays nothing; wrong or borrowed proofs revert", async () => {
    const [, alice, bob, carol] = p.users;
    const tree = rewardTree([
      { account: alice.address, cumulativeAmount: 100n },
      { account: bob.address, cumulativeAmount: 50n },
    ]);
    const { cumulativeAmount, proof } = tree.proof(alice.address);
    // Anyone may submit the claim; the tokens go to the account in the leaf.
    await p.mined(carol.contracts.rewardDistributor.write.claim([alice.address, cumulativeAmount, proof]));
    expect(await balance(1)).toBe(100n);
    await expect(alice.contracts.rewardDistributor.simulate.claim([alice.address, cumulativeAmount, proof])).rejects.toThrow(
      /NothingToClaim/,
    );
    expect(await balance(1)).toBe(100n);
    // A larger amount than the leaf says, a proof for another account, a proof used for another account.
    await expect(alice.contracts.rewardDistributor.simulate.claim([alice.address, 1000n, proof])).rejects.toThrow(
      /InvalidProof/,
    );
    await expect(
      alice.contracts.rewardDistributor.simulate.claim([alice.address, 50n, tree.proof(bob.address).proof]),
    ).rejects.toThrow(/InvalidProof/);
    await expect(bob.contracts.rewardDistributor.simulate.claim([bob.address, 100n, proof])).rejects.toThrow(/InvalidProof/);
    const claims = await alice.contracts.rewardDistributor.getEvents.Claimed({}, { fromBlock: 0n });
    expect(claims.map((e) => [e.args.account, e.args.amount])).toEqual([[alice.address, 100n]]);
  });

  it("after a new epoch's root, pays exactly the difference, and the old proof no longer works", async () => {
    const [operator, alice, bob, carol] = p.users;
    const old = rewardTree([
      { account: alice.address, cumulativeAmount: 100n },
      { account: bob.address, cumulativeAmount: 50n },
    ]);
    const tree = rewardTree([
      { account: alice.address, cumulativeAmount: 130n },
      { account: bob.address, cumulativeAmount: 50n },
      { account: carol.address, cumulativeAmount: 20n },
    ]);
    await p.mined(operator.contracts.rewardDistributor.write.setRoot([2n, tree.root]));
    const oldProof = old.proof(bob.address);
    await expect(
      bob.contracts.rewardDistributor.simulate.claim([bob.address, oldProof.cumulativeAmount, oldProof.proof]),
    ).rejects.toThrow(/InvalidProof/);
    for (const user of [alice, bob, carol]) {
      const { cumulativeAmount, proof } = tree.proof(user.address);
      await p.mined(user.contracts.rewardDistributor.write.claim([user.address, cumulativeAmount, proof]));
    }
    expect([await balance(1), await balance(2), await balance(3)]).toEqual([130n, 50n, 20n]);
    expect(await operator.contracts.rewardDistributor.read.claimed([alice.address])).toBe(130n);
    expect(await operator.contracts.openToken.read.balanceOf([p.addresses.RewardDistributor])).toBe(10_000n - 200n);
  });
});
