// Off-chain Merkle trees in the encoding the contracts verify (OpenZeppelin's StandardMerkleTree).
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { recordLeafEncoding, rewardLeafEncoding } from "@openledger/contracts";
import type { Address, Hex } from "viem";

export interface RewardEntry {
  account: Address;
  /** Everything the account has earned up to and including the epoch. */
  cumulativeAmount: bigint;
}

export interface RewardTree {
  root: Hex;
  /** The proof of an account's entry; throws when the account has none. */
  proof(account: Address): { cumulativeAmount: bigint; proof: Hex[] };
}

export function rewardTree(entries: readonly RewardEntry[]): RewardTree {
  const seen = new Set<string>();
  for (const { account, cumulativeAmount } of entries) {
    if (seen.has(account.toLowerCase())) throw new Error(`reward tree: ${account} appears twice`);
    if (cumulativeAmount < 0n) throw new Error(`reward tree: negative amount for ${account}`);
    seen.add(account.toLowerCase());
  }
  const tree = StandardMerkleTree.of(
    entries.map((e) => [e.account, e.cumulativeAmount.toString()]),
    [...rewardLeafEncoding],
  );
  return {
    root: tree.root as Hex,
    proof(account) {
      for (const [i, [leafAccount, amount]] of tree.entries()) {
        if (String(leafAccount).toLowerCase() === account.toLowerCase()) {
          return { cumulativeAmount: BigInt(amount as string), proof: tree.getProof(i) as Hex[] };
        }
      }
      throw new Error(`reward tree: no entry for ${account}`);
    },
  };
}

export interface RecordTree {
  root: Hex;
  proof(recordHash: Hex): Hex[];
}

/** The tree of a batch of records, by their content hashes (bytes32), as DatanetRegistry anchors it. */
export function recordTree(recordHashes: readonly Hex[]): RecordTree {
  const tree = StandardMerkleTree.of(
    recordHashes.map((h) => [h]),
    [...recordLeafEncoding],
  );
  return {
    root: tree.root as Hex,
    proof: (recordHash) => tree.getProof([recordHash]) as Hex[],
  };
}
