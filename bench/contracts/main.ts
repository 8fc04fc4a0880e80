// Gas of every contract write, measured on a real anvil. The reference measured in the same run is a
// plain OPEN transfer (the floor for anything that moves tokens); the bars are printed beside
// the writes they apply to (claim <= 80k, anchor <= 60k). Usage: npm run bench:contracts [-- --json]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { encodeFunctionData, keccak256, toHex, type Address, type Hash, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  ANVIL_DEV_PRIVATE_KEYS,
  PLATFORM_CONTRACTS,
  connectChain,
  deployPlatform,
  platformContracts,
  recordTree,
  rewardTree,
  signPermit,
  startAnvil,
  type ChainClients,
  type PlatformContracts,
} from "@openledger/sdk";

interface Row {
  write: string;
  gas: bigint;
  bar?: bigint;
}

const TREE_ACCOUNTS = 1024;
const hash = (text: string): Hex => keccak256(toHex(text));

async function main(): Promise<void> {
  const anvil = await startAnvil();
  const dir = mkdtempSync(path.join(tmpdir(), "ol-bench-contracts-"));
  const rows: Row[] = [];
  try {
    const users: { clients: ChainClients; c: PlatformContracts; address: Address }[] = [];
    const config = { votingDelayBlocks: 1, votingPeriodBlocks: 5, timelockDelaySeconds: 60, unbondingDelaySeconds: 60 };
    const deployer = await connectChain({ rpcUrl: anvil.rpcUrl, privateKey: ANVIL_DEV_PRIVATE_KEYS[0] });
    const { addresses, addressBookPath } = await deployPlatform(deployer, { addressBookDir: dir, config });
    for (const key of ANVIL_DEV_PRIVATE_KEYS.slice(0, 4)) {
      const clients = await connectChain({ rpcUrl: anvil.rpcUrl, privateKey: key });
      users.push({ clients, c: platformContracts(clients, addresses), address: clients.account.address });
    }
    const [op, alice, bob, carol] = users;
    const pub = op.clients.publicClient;
    const rpc = (method: string, params: unknown[]) => pub.request({ method: method as "eth_chainId", params: params as never });
    const measure = async (write: string, tx: Promise<Hash>, bar?: bigint) => {
      const receipt = await pub.waitForTransactionReceipt({ hash: await tx });
      if (receipt.status !== "success") throw new Error(`${write} reverted`);
      rows.push({ write, gas: receipt.gasUsed, bar });
    };

    const book = (await import(addressBookPath)) as { contracts: Record<string, { transactionHash: Hash }> };
    for (const name of PLATFORM_CONTRACTS) {
      const receipt = await pub.getTransactionReceipt({ hash: book.contracts[name].transactionHash });
      rows.push({ write: `deploy ${name}`, gas: receipt.gasUsed });
    }

    // Reference: plain transfers, to an account without OPEN and to one that holds some.
    await measure("reference: OPEN transfer to a new holder", op.c.openToken.write.transfer([alice.address, 10n ** 21n]));
    await measure("reference: OPEN transfer to a holder", op.c.openToken.write.transfer([alice.address, 10n ** 21n]));
    const deadline = 2n ** 40n;
    const permit = await signPermit(alice.clients, {
      token: addresses.OpenToken,
      owner: alice.address,
      spender: bob.address,
      value: 1n,
      nonce: 0n,
      deadline,
    });
    await measure(
      "OpenToken.permit",
      bob.c.openToken.write.permit([alice.address, bob.address, 1n, deadline, permit.v, permit.r, permit.s]),
    );

    // Datanets.
    await measure("DatanetRegistry.createDatanet", alice.c.datanetRegistry.write.createDatanet([hash("bench datanet"), "ipfs://bench"]));
    await measure("DatanetRegistry.addValidator", alice.c.datanetRegistry.write.addValidator([1n, bob.address]));
    await measure("DatanetRegistry.removeValidator", alice.c.datanetRegistry.write.removeValidator([1n, bob.address]));
    const records = recordTree(Array.from({ length: 256 }, (_, i) => hash(`record ${i}`)));
    await measure("DatanetRegistry.anchorContributions (first batch)", op.c.datanetRegistry.write.anchorContributions([1n, records.root, 256n]));
    await measure(
      "DatanetRegistry.anchorContributions (next batch)",
      op.c.datanetRegistry.write.anchorContributions([1n, hash("batch 2"), 256n]),
    );

    // Models.
    await measure(
      "ModelRegistry.registerModel (1 training set)",
      bob.c.modelRegistry.write.registerModel([hash("base"), hash("adapter"), [{ datanetId: 1n, root: records.root }], 10n ** 15n]),
    );
    await measure("ModelRegistry.setPrice", bob.c.modelRegistry.write.setPrice([1n, 2n * 10n ** 15n]));
    await measure("ModelRegistry.deprecate", bob.c.modelRegistry.write.deprecate([1n]));

    // Settlement.
    await measure("AttributionAnchor.anchor", op.c.attributionAnchor.write.anchor([1n, hash("epoch 1"), 10n ** 20n]), 60_000n);
    await measure("AttributionAnchor.anchor (next epoch)", op.c.attributionAnchor.write.anchor([2n, hash("epoch 2"), 10n ** 20n]), 60_000n);
    const others = Array.from({ length: TREE_ACCOUNTS - 3 }, (_, i) => privateKeyToAccount(hash(`account ${i}`)).address);
    const epochTree = (scale: bigint) =>
      rewardTree(
        [alice.address, bob.address, carol.address, ...others].map((account, i) => ({
          account,
          cumulativeAmount: scale * BigInt(i + 1),
        })),
      );
    await op.clients.walletClient.writeContract({
      address: addresses.OpenToken,
      abi: op.c.openToken.abi,
      functionName: "transfer",
      args: [addresses.RewardDistributor, 10n ** 24n],
    });
    const epoch1 = epochTree(1000n);
    await measure("RewardDistributor.setRoot (first epoch)", op.c.rewardDistributor.write.setRoot([1n, epoch1.root]));
    const claim = (who: (typeof users)[number], tree: ReturnType<typeof epochTree>) => {
      const { cumulativeAmount, proof } = tree.proof(who.address);
      return who.c.rewardDistributor.write.claim([who.address, cumulativeAmount, proof]);
    };
    await measure(`RewardDistributor.claim (first, holder, ${TREE_ACCOUNTS} leaves)`, claim(alice, epoch1), 80_000n);
    await measure(`RewardDistributor.claim (first, new holder, ${TREE_ACCOUNTS} leaves)`, claim(carol, epoch1), 80_000n);
    const epoch2 = epochTree(2000n);
    await measure("RewardDistributor.setRoot (next epoch)", op.c.rewardDistributor.write.setRoot([2n, epoch2.root]));
    await measure(`RewardDistributor.claim (next epoch, ${TREE_ACCOUNTS} leaves)`, claim(alice, epoch2), 80_000n);

    // Governance.
    await measure("ContributionVotes.mintCumulative (1 account)", op.c.contributionVotes.write.mintCumulative([[alice.address], [1000n]]));
    const ten = others.slice(0, 10);
    await measure(
      "ContributionVotes.mintCumulative (10 accounts)",
      op.c.contributionVotes.write.mintCumulative([ten, ten.map(() => 100n)]),
    );
    const agent = hash("bench agent");
    await op.clients.walletClient.writeContract({
      address: addresses.OpenToken,
      abi: op.c.openToken.abi,
      functionName: "transfer",
      args: [carol.address, 10n ** 21n],
    });
    await measure("OpenToken.approve", carol.c.openToken.write.approve([addresses.AgentStaking, 10n ** 21n]));
    await measure("AgentStaking.stake", carol.c.agentStaking.write.stake([agent, 10n ** 20n]));
    await measure("AgentStaking.unbond", carol.c.agentStaking.write.unbond([agent, 10n ** 19n]));
    await rpc("evm_increaseTime", ["0x3d"]);
    await measure("AgentStaking.withdraw", carol.c.agentStaking.write.withdraw([agent]));

    const calls: { target: Address; data: Hex; label: string }[] = [
      {
        label: "ProtocolParameters.setFeeSplit",
        target: addresses.ProtocolParameters,
        data: encodeFunctionData({ abi: op.c.protocolParameters.abi, functionName: "setFeeSplit", args: [3000, 6000, 1000] }),
      },
      {
        label: "ProtocolParameters.setPenalties",
        target: addresses.ProtocolParameters,
        data: encodeFunctionData({ abi: op.c.protocolParameters.abi, functionName: "setPenalties", args: [800, 5000] }),
      },
      {
        label: "AgentStaking.slash",
        target: addresses.AgentStaking,
        data: encodeFunctionData({ abi: op.c.agentStaking.abi, functionName: "slash", args: [agent, carol.address, 10n ** 19n, "bench"] }),
      },
    ];
    // Each governance-only write is measured as the timelock itself runs it (a call from the timelock).
    for (const call of calls) {
      const gas = await pub.estimateGas({ account: addresses.OpenTimelock, to: call.target, data: call.data });
      rows.push({ write: `${call.label} (estimated, from the timelock)`, gas });
    }
    const targets = calls.map((c) => c.target);
    const values = calls.map(() => 0n);
    const datas = calls.map((c) => c.data);
    const description = "bench proposal";
    const descriptionHash = keccak256(toHex(description));
    const proposalId = await alice.c.openGovernor.read.hashProposal([targets, values, datas, descriptionHash]);
    await measure("OpenGovernor.propose (3 actions)", alice.c.openGovernor.write.propose([targets, values, datas, description]));
    await rpc("anvil_mine", ["0x2"]);
    await measure("OpenGovernor.castVote", alice.c.openGovernor.write.castVote([proposalId, 1]));
    await rpc("anvil_mine", ["0x6"]);
    await measure("OpenGovernor.queue", alice.c.openGovernor.write.queue([targets, values, datas, descriptionHash]));
    await rpc("evm_increaseTime", ["0x3d"]);
    await measure("OpenGovernor.execute (3 actions)", alice.c.openGovernor.write.execute([targets, values, datas, descriptionHash]));

    const reference = rows.find((r) => r.write.startsWith("reference: OPEN transfer to a holder"))!.gas;
    if (process.argv.includes("--json")) {
      process.stdout.write(`${JSON.stringify(rows, (_, v: unknown) => (typeof v === "bigint" ? Number(v) : v))}\n`);
    } else {
      process.stdout.write(`${"write".padEnd(64)} ${"gas".padStart(9)}  ${"x transfer".padStart(10)}  bar\n`);
      for (const row of rows) {
        const ratio = (Number(row.gas) / Number(reference)).toFixed(2);
        const bar = row.bar === undefined ? "" : `${row.bar} (${row.gas <= row.bar ? "ok" : "OVER"}, ${(Number(row.gas) / Number(row.bar)).toFixed(2)})`;
        process.stdout.write(`${row.write.padEnd(64)} ${String(row.gas).padStart(9)}  ${ratio.padStart(10)}  ${bar}\n`);
      }
    }
  } finally {
    await anvil.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/contracts: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
