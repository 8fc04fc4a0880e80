// Typed viem contract instances for a deployed platform (reads and writes checked against the ABIs).
// Writes that must survive retries go through sendIdempotent with contractCall instead of `.write`.
import { getContract, publicActions, type Address, type GetContractReturnType } from "viem";
import {
  agentStakingAbi,
  attributionAnchorAbi,
  contributionVotesAbi,
  datanetRegistryAbi,
  modelRegistryAbi,
  openGovernorAbi,
  openTimelockAbi,
  openTokenAbi,
  protocolParametersAbi,
  rewardDistributorAbi,
} from "@openledger/contracts";
import type { ChainClients } from "./clients";
import type { PlatformAddresses } from "./deploy";

// One client that reads and signs, so `simulate` runs as the signing account (as `write` does).
const signingClient = (clients: ChainClients) => clients.walletClient.extend(publicActions);
type Clients = ReturnType<typeof signingClient>;
type Typed<abi extends readonly unknown[]> = GetContractReturnType<abi, Clients, Address>;

export interface PlatformContracts {
  openToken: Typed<typeof openTokenAbi>;
  datanetRegistry: Typed<typeof datanetRegistryAbi>;
  modelRegistry: Typed<typeof modelRegistryAbi>;
  attributionAnchor: Typed<typeof attributionAnchorAbi>;
  rewardDistributor: Typed<typeof rewardDistributorAbi>;
  contributionVotes: Typed<typeof contributionVotesAbi>;
  openTimelock: Typed<typeof openTimelockAbi>;
  openGovernor: Typed<typeof openGovernorAbi>;
  protocolParameters: Typed<typeof protocolParametersAbi>;
  agentStaking: Typed<typeof agentStakingAbi>;
}

export function platformContracts(clients: ChainClients, addresses: PlatformAddresses): PlatformContracts {
  const client = signingClient(clients);
  return {
    openToken: getContract({ address: addresses.OpenToken, abi: openTokenAbi, client }),
    datanetRegistry: getContract({ address: addresses.DatanetRegistry, abi: datanetRegistryAbi, client }),
    modelRegistry: getContract({ address: addresses.ModelRegistry, abi: modelRegistryAbi, client }),
    attributionAnchor: getContract({ address: addresses.AttributionAnchor, abi: attributionAnchorAbi, client }),
    rewardDistributor: getContract({ address: addresses.RewardDistributor, abi: rewardDistributorAbi, client }),
    contributionVotes: getContract({ address: addresses.ContributionVotes, abi: contributionVotesAbi, client }),
    openTimelock: getContract({ address: addresses.OpenTimelock, abi: openTimelockAbi, client }),
    openGovernor: getContract({ address: addresses.OpenGovernor, abi: openGovernorAbi, client }),
    protocolParameters: getContract({ address: addresses.ProtocolParameters, abi: protocolParametersAbi, client }),
    agentStaking: getContract({ address: addresses.AgentStaking, abi: agentStakingAbi, client }),
  };
}
