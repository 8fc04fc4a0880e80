// The platform's chain writes, each made idempotent by the chain-state read that proves it happened.
// Temporal activities call these; a retry after a crash or a lost response never applies twice.
import { getContract, zeroHash, type Address, type Hex } from "viem";
import {
  attributionAnchorAbi,
  contributionVotesAbi,
  datanetRegistryAbi,
  modelRegistryAbi,
  rewardDistributorAbi,
} from "@openledger/contracts";
import type { ChainClients } from "./clients";
import type { PlatformAddresses } from "./deploy";
import { ChainWriteError, contractCall, sendIdempotent, type SendOptions, type SendResult } from "./send";

type Addresses = Pick<
  PlatformAddresses,
  "RewardDistributor" | "AttributionAnchor" | "DatanetRegistry" | "ContributionVotes" | "ModelRegistry"
>;

/** Publishes an epoch's reward root; an epoch already holding another root is a conflict, not a retry. */
export function postRewardRoot(
  clients: ChainClients,
  addresses: Pick<Addresses, "RewardDistributor">,
  epoch: bigint,
  root: Hex,
  options?: SendOptions,
): Promise<SendResult> {
  const address = addresses.RewardDistributor;
  const distributor = getContract({ address, abi: rewardDistributorAbi, client: clients.publicClient });
  return sendIdempotent(
    clients,
    {
      label: `post reward root of epoch ${epoch}`,
      isDone: async () => {
        const existing = await distributor.read.rootOf([epoch]);
        if (existing !== zeroHash && existing !== root) {
          throw new ChainWriteError(`epoch ${epoch} already has reward root ${existing}, not ${root}`);
        }
        return existing === root;
      },
      request: contractCall({ address, abi: rewardDistributorAbi, functionName: "setRoot", args: [epoch, root] }),
    },
    options,
  );
}

/** Anchors an epoch's attribution root and total fees, once. */
export function anchorEpoch(
  clients: ChainClients,
  addresses: Pick<Addresses, "AttributionAnchor">,
  anchor: { epoch: bigint; root: Hex; totalFees: bigint },
  options?: SendOptions,
): Promise<SendResult> {
  const address = addresses.AttributionAnchor;
  const anchorContract = getContract({ address, abi: attributionAnchorAbi, client: clients.publicClient });
  const { epoch, root, totalFees } = anchor;
  return sendIdempotent(
    clients,
    {
      label: `anchor attribution of epoch ${epoch}`,
      isDone: async () => {
        const existing = await anchorContract.read.rootOf([epoch]);
        if (existing !== zeroHash && existing !== root) {
          throw new ChainWriteError(`epoch ${epoch} is already anchored with ${existing}, not ${root}`);
        }
        return existing === root;
      },
      request: contractCall({
        address,
        abi: attributionAnchorAbi,
        functionName: "anchor",
        args: [epoch, root, totalFees],
      }),
    },
    options,
  );
}

/** Anchors a batch of approved contributions; returns its batch index. */
export async function anchorContributions(
  clients: ChainClients,
  addresses: Pick<Addresses, "DatanetRegistry">,
  batch: { datanetId: bigint; root: Hex; count: bigint },
  options?: SendOptions,
): Promise<bigint> {
  const address = addresses.DatanetRegistry;
  const registry = getContract({ address, abi: datanetRegistryAbi, client: clients.publicClient });
  const find = () => registry.read.findBatch([batch.datanetId, batch.root]);
  await sendIdempotent(
    clients,
    {
      label: `anchor ${batch.count} contributions to datanet ${batch.datanetId}`,
      isDone: async () => (await find())[0],
      request: contractCall({
        address,
        abi: datanetRegistryAbi,
        functionName: "anchorContributions",
        args: [batch.datanetId, batch.root, batch.count],
      }),
    },
    options,
  );
  return (await find())[1];
}

/** Creates a datanet owned by the signing account; returns its id. */
export async function createDatanet(
  clients: ChainClients,
  addresses: Pick<Addresses, "DatanetRegistry">,
  datanet: { metadataHash: Hex; uri: string },
  options?: SendOptions,
): Promise<bigint> {
  const address = addresses.DatanetRegistry;
  const registry = getContract({ address, abi: datanetRegistryAbi, client: clients.publicClient });
  const idOf = () => registry.read.datanetIdOf([datanet.metadataHash]);
  await sendIdempotent(
    clients,
    {
      label: `create datanet ${datanet.metadataHash}`,
      isDone: async () => (await idOf()) !== 0n,
      request: contractCall({
        address,
        abi: datanetRegistryAbi,
        functionName: "createDatanet",
        args: [datanet.metadataHash, datanet.uri],
      }),
    },
    options,
  );
  return idOf();
}

/** Registers a model owned by the signing account; returns its token id. */
export async function registerModel(
  clients: ChainClients,
  addresses: Pick<Addresses, "ModelRegistry">,
  model: {
    baseModelHash: Hex;
    adapterHash: Hex;
    trainingSets: readonly { datanetId: bigint; root: Hex }[];
    pricePerCall: bigint;
  },
  options?: SendOptions,
): Promise<bigint> {
  const address = addresses.ModelRegistry;
  const registry = getContract({ address, abi: modelRegistryAbi, client: clients.publicClient });
  const idOf = () => registry.read.modelIdOfAdapter([model.adapterHash]);
  await sendIdempotent(
    clients,
    {
      label: `register model with adapter ${model.adapterHash}`,
      isDone: async () => (await idOf()) !== 0n,
      request: contractCall({
        address,
        abi: modelRegistryAbi,
        functionName: "registerModel",
        args: [model.baseModelHash, model.adapterHash, model.trainingSets, model.pricePerCall],
      }),
    },
    options,
  );
  return idOf();
}

/** Raises contributors' voting units to their cumulative settled contribution. */
export function mintContributionVotes(
  clients: ChainClients,
  addresses: Pick<Addresses, "ContributionVotes">,
  entries: readonly { account: Address; cumulativeUnits: bigint }[],
  options?: SendOptions,
): Promise<SendResult> {
  const address = addresses.ContributionVotes;
  const votes = getContract({ address, abi: contributionVotesAbi, client: clients.publicClient });
  return sendIdempotent(
    clients,
    {
      label: `mint contribution votes for ${entries.length} account(s)`,
      isDone: async () => {
        for (const { account, cumulativeUnits } of entries) {
          if ((await votes.read.votingUnits([account])) < cumulativeUnits) return false;
        }
        return true;
      },
      request: contractCall({
        address,
        abi: contributionVotesAbi,
        functionName: "mintCumulative",
        args: [entries.map((e) => e.account), entries.map((e) => e.cumulativeUnits)],
      }),
    },
    options,
  );
}
