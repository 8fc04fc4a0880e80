// OpenToken keeps each account's balance and its cumulative paid rewards in one storage slot
// (uint128 each), written only by the bound RewardDistributor's claims. Deployed here on its own
// with a supply of 2^128 - 1 to exercise the bounds.
import { encodeAbiParameters, encodeDeployData, getAddress, hexToBigInt, keccak256, toFunctionSelector, type Address } from "viem";
import { openTokenAbi, openTokenBytecode, rewardDistributorAbi, rewardDistributorBytecode } from "@openledger/contracts";
import { ANVIL_DEV_PRIVATE_KEYS, connectChain, rewardTree, startAnvil, type AnvilChain, type ChainClients } from "@openledger/sdk";

const MAX_UINT128 = 2n ** 128n - 1n;
// Storage slot of OpenToken's `_holders` mapping (after EIP712's two fallback strings and Nonces' map).
const HOLDERS_SLOT = 4n;
// Reverts of a deployment come back undecoded: match their selectors.
const selectorOf = (signature: string) => new RegExp(toFunctionSelector(signature));

describe("OpenToken reward slot", () => {
  let anvil: AnvilChain;
  let treasury: ChainClients;
  let alice: ChainClients;
  let bob: ChainClients;

  const deployed = async (hash: Promise<`0x${string}`>): Promise<Address> => {
    const receipt = await treasury.publicClient.waitForTransactionReceipt({ hash: await hash });
    expect(receipt.status).toBe("success");
    return getAddress(receipt.contractAddress!);
  };
  const mined = async (hash: Promise<`0x${string}`>) => {
    const receipt = await treasury.publicClient.waitForTransactionReceipt({ hash: await hash });
    expect(receipt.status).toBe("success");
  };
  const deployToken = (by: ChainClients, supply: bigint) =>
    deployed(
      by.walletClient.deployContract({ abi: openTokenAbi, bytecode: openTokenBytecode, args: [by.account.address, supply] }),
    );
  const bind = (by: ChainClients, token: Address, distributor: Address) =>
    mined(by.walletClient.writeContract({ address: token, abi: openTokenAbi, functionName: "bindRewardDistributor", args: [distributor] }));
  /** Deploys a distributor and binds it as the token's reward payer, as deployPlatform does. */
  const deployDistributor = async (by: ChainClients, token: Address) => {
    const distributor = await deployed(
      by.walletClient.deployContract({
        abi: rewardDistributorAbi,
        bytecode: rewardDistributorBytecode,
        args: [token, by.account.address],
      }),
    );
    await bind(by, token, distributor);
    return distributor;
  };
  const transfer = (from: ChainClients, token: Address, to: Address, value: bigint) =>
    mined(from.walletClient.writeContract({ address: token, abi: openTokenAbi, functionName: "transfer", args: [to, value] }));
  const simulateClaim = (distributor: Address, account: Address, cumulativeAmount: bigint, proof: `0x${string}`[]) =>
    treasury.publicClient.simulateContract({
      account: alice.account,
      address: distributor,
      abi: rewardDistributorAbi,
      functionName: "claim",
      args: [account, cumulativeAmount, proof],
    });
  const grantSettlementRole = (distributor: Address) =>
    mined(
      treasury.walletClient.writeContract({
        address: distributor,
        abi: rewardDistributorAbi,
        functionName: "grantRole",
        args: [keccak256(new TextEncoder().encode("SETTLEMENT_ROLE")), treasury.account.address],
      }),
    );
  /** The raw slot: rewardsClaimed in the high 128 bits, balance in the low 128. */
  const holderSlot = async (token: Address, account: Address) => {
    const slot = keccak256(encodeAbiParameters([{ type: "address" }, { type: "uint256" }], [account, HOLDERS_SLOT]));
    return hexToBigInt((await treasury.publicClient.getStorageAt({ address: token, slot }))!);
  };

  beforeAll(async () => {
    anvil = await startAnvil();
    [treasury, alice, bob] = await Promise.all(
      ANVIL_DEV_PRIVATE_KEYS.slice(0, 3).map((privateKey) => connectChain({ rpcUrl: anvil.rpcUrl, privateKey })),
    );
  });
  afterAll(async () => {
    await anvil?.stop();
  });

  it("refuses a supply of 2^128 or more", async () => {
    await expect(
      treasury.publicClient.estimateGas({
        account: treasury.account,
        data: encodeDeployData({
          abi: openTokenAbi,
          bytecode: openTokenBytecode,
          args: [treasury.account.address, 2n ** 128n],
        }),
      }),
    ).rejects.toThrow(selectorOf("SafeCastOverflowedUintDowncast(uint8,uint256)"));
  });

  it("packs balance and claimed rewards at the uint128 bounds; transfers leave the claimed part alone", async () => {
    const token = await deployToken(treasury, MAX_UINT128);
    const distributor = await deployDistributor(treasury, token);
    const boundTo = await treasury.publicClient.readContract({ address: token, abi: openTokenAbi, functionName: "rewardDistributor" });
    expect(boundTo).toBe(distributor);
    const read = (functionName: "balanceOf" | "rewardsClaimed", account: Address) =>
      treasury.publicClient.readContract({ address: token, abi: openTokenAbi, functionName, args: [account] });
    await transfer(treasury, token, distributor, MAX_UINT128);
    await grantSettlementRole(distributor);
    const claim = async (epoch: bigint, cumulativeAmount: bigint) => {
      const tree = rewardTree([
        { account: alice.account.address, cumulativeAmount },
        { account: bob.account.address, cumulativeAmount: 1n },
      ]);
      await mined(
        treasury.walletClient.writeContract({
          address: distributor,
          abi: rewardDistributorAbi,
          functionName: "setRoot",
          args: [epoch, tree.root],
        }),
      );
      const { proof } = tree.proof(alice.account.address);
      const send = () =>
        alice.walletClient.writeContract({
          address: distributor,
          abi: rewardDistributorAbi,
          functionName: "claim",
          args: [alice.account.address, cumulativeAmount, proof],
        });
      return { proof, send };
    };

    const first = await claim(1n, 7n);
    await mined(first.send());
    expect(await holderSlot(token, alice.account.address)).toBe((7n << 128n) | 7n);

    // Transfers move only the balance half.
    await transfer(alice, token, bob.account.address, 5n);
    expect([await read("balanceOf", alice.account.address), await read("rewardsClaimed", alice.account.address)]).toEqual([2n, 7n]);
    expect([await read("balanceOf", bob.account.address), await read("rewardsClaimed", bob.account.address)]).toEqual([5n, 0n]);
    await expect(simulateClaim(distributor, alice.account.address, 7n, first.proof)).rejects.toThrow(/NothingToClaim/);

    // The whole supply, claimed cumulatively: both halves at 2^128 - 1 minus what alice gave away.
    const all = await claim(2n, MAX_UINT128 - 1n);
    await mined(all.send());
    expect(await holderSlot(token, alice.account.address)).toBe(((MAX_UINT128 - 1n) << 128n) | (MAX_UINT128 - 1n - 5n));
    expect(await read("balanceOf", distributor)).toBe(1n);
    await expect(simulateClaim(distributor, alice.account.address, MAX_UINT128 - 1n, all.proof)).rejects.toThrow(
      /NothingToClaim/,
    );
    // bob receives the last unit by transfer too: his balance reaches the bound, his claimed part stays 0.
    await transfer(alice, token, bob.account.address, MAX_UINT128 - 1n - 5n);
    expect(await holderSlot(token, bob.account.address)).toBe(MAX_UINT128 - 1n);
    expect(await holderSlot(token, alice.account.address)).toBe((MAX_UINT128 - 1n) << 128n);
  });

  it("lets only the bound distributor pay rewards, and binds once, from the treasury's own transactions", async () => {
    const token = await deployToken(treasury, 1000n);
    const distributor = await deployDistributor(treasury, token);
    const asTreasury = { account: treasury.account, address: token, abi: openTokenAbi } as const;
    await expect(
      treasury.publicClient.simulateContract({ ...asTreasury, functionName: "payReward", args: [alice.account.address, 1n] }),
    ).rejects.toThrow(/NotRewardDistributor/);
    await expect(
      treasury.publicClient.simulateContract({ ...asTreasury, functionName: "bindRewardDistributor", args: [alice.account.address] }),
    ).rejects.toThrow(new RegExp(`RewardDistributorAlreadyBound[\\s\\S]*${distributor}`));
    // Only the treasury may name the distributor of a fresh token.
    const fresh = await deployToken(treasury, 1000n);
    await expect(
      treasury.publicClient.simulateContract({
        account: alice.account,
        address: fresh,
        abi: openTokenAbi,
        functionName: "bindRewardDistributor",
        args: [alice.account.address],
      }),
    ).rejects.toThrow(/RewardDistributorBindNotByTreasury/);

    // A leaf naming the distributor itself pays it from itself: no OPEN is created.
    await transfer(treasury, token, distributor, 1000n);
    await grantSettlementRole(distributor);
    const tree = rewardTree([
      { account: distributor, cumulativeAmount: 10n },
      { account: bob.account.address, cumulativeAmount: 1n },
    ]);
    const asDistributor = { address: distributor, abi: rewardDistributorAbi } as const;
    await mined(treasury.walletClient.writeContract({ ...asDistributor, functionName: "setRoot", args: [1n, tree.root] }));
    const { proof } = tree.proof(distributor);
    await mined(treasury.walletClient.writeContract({ ...asDistributor, functionName: "claim", args: [distributor, 10n, proof] }));
    expect(await holderSlot(token, distributor)).toBe((10n << 128n) | 1000n);
  });
});
