// Contribution votes, the Governor + TimelockController, protocol parameters and agent staking.
import { encodeFunctionData, keccak256, toHex, type Address, type Hex } from "viem";
import { contributionVotesAbi } from "@openledger/contracts";
import { startPlatform, TEST_CONFIG, type Platform } from "./fixture";

const AGENT = keccak256(toHex("agent: research assistant"));
const ProposalState = { Succeeded: 4, Queued: 5, Executed: 7 } as const;

describe("governance", () => {
  let p: Platform;
  beforeAll(async () => {
    p = await startPlatform();
  });
  afterAll(async () => {
    await p?.stop();
  });

  describe("ContributionVotes", () => {
    it("mints cumulative units only from the settlement role; replaying a settlement mints nothing", async () => {
      const [operator, alice, bob] = p.users;
      const votes = operator.contracts.contributionVotes;
      await expect(
        alice.contracts.contributionVotes.simulate.mintCumulative([[alice.address], [1000n]]),
      ).rejects.toThrow(/AccessControlUnauthorizedAccount/);
      await p.mined(votes.write.mintCumulative([[alice.address, bob.address], [600n, 400n]]));
      await p.mined(votes.write.mintCumulative([[alice.address, bob.address], [600n, 400n]]));
      expect(await votes.read.getVotes([alice.address])).toBe(600n);
      expect(await votes.read.getVotes([bob.address])).toBe(400n);
      expect(await votes.read.delegates([alice.address])).toBe(alice.address);
      await p.mine(1);
      const block = await operator.clients.publicClient.getBlockNumber();
      expect(await votes.read.getPastTotalSupply([block - 1n])).toBe(1000n);
      await expect(votes.simulate.mintCumulative([[alice.address], [500n]])).rejects.toThrow(/CumulativeUnitsDecreased/);
      await expect(votes.simulate.mintCumulative([[alice.address], []])).rejects.toThrow(/LengthMismatch/);
    });

    it("cannot be transferred, delegated or delegated by signature; OPEN holdings give no votes", async () => {
      const [operator, alice, bob] = p.users;
      const names = contributionVotesAbi.filter((item) => item.type === "function").map((f) => f.name);
      expect(names).not.toContain("transfer");
      expect(names).not.toContain("transferFrom");
      expect(names).not.toContain("approve");
      // delegate and delegateBySig always revert (they are `pure` in the ABI for that reason).
      await expect(alice.contracts.contributionVotes.read.delegate([bob.address])).rejects.toThrow(/VotesNotDelegable/);
      const zero32: Hex = `0x${"00".repeat(32)}`;
      await expect(
        alice.contracts.contributionVotes.read.delegateBySig([bob.address, 0n, 2n ** 40n, 27, zero32, zero32]),
      ).rejects.toThrow(/VotesNotDelegable/);
      // Sent as a real transaction, the delegation reverts on chain and moves nothing.
      const hash = await alice.clients.walletClient.sendTransaction({
        to: p.addresses.ContributionVotes,
        data: encodeFunctionData({ abi: contributionVotesAbi, functionName: "delegate", args: [bob.address] }),
        gas: 100_000n,
      });
      expect((await alice.clients.publicClient.waitForTransactionReceipt({ hash })).status).toBe("reverted");
      expect(await alice.contracts.contributionVotes.read.delegates([alice.address])).toBe(alice.address);
      expect(await alice.contracts.contributionVotes.read.getVotes([bob.address])).toBe(400n);
      expect(await operator.contracts.openToken.read.balanceOf([operator.address])).toBeGreaterThan(0n);
      expect(await operator.contracts.contributionVotes.read.getVotes([operator.address])).toBe(0n);
    });
  });

  describe("ProtocolParameters, AgentStaking and the Governor", () => {
    const stake = 1000n;

    it("refuses parameter changes and slashing from anyone but governance", async () => {
      const [operator, alice] = p.users;
      await expect(operator.contracts.protocolParameters.simulate.setFeeSplit([3000, 6000, 1000])).rejects.toThrow(
        /OwnableUnauthorizedAccount/,
      );
      await expect(operator.contracts.protocolParameters.simulate.setPenalties([100, 100])).rejects.toThrow(
        /OwnableUnauthorizedAccount/,
      );
      await expect(
        alice.contracts.agentStaking.simulate.slash([AGENT, alice.address, 1n, "no reason"]),
      ).rejects.toThrow(/OwnableUnauthorizedAccount/);
      await expect(operator.contracts.agentStaking.simulate.slash([AGENT, alice.address, 1n, "x"])).rejects.toThrow(
        /OwnableUnauthorizedAccount/,
      );
    });

    it("refuses governance settings and timelock scheduling from anyone but governance", async () => {
      const [operator] = p.users;
      await expect(operator.contracts.openGovernor.simulate.setVotingPeriod([1])).rejects.toThrow(/GovernorOnlyExecutor/);
      await expect(operator.contracts.openGovernor.simulate.updateQuorumNumerator([1n])).rejects.toThrow(
        /GovernorOnlyExecutor/,
      );
      const zero32: Hex = `0x${"00".repeat(32)}`;
      await expect(
        operator.contracts.openTimelock.simulate.schedule([p.addresses.ProtocolParameters, 0n, "0x", zero32, zero32, 60n]),
      ).rejects.toThrow(/AccessControlUnauthorizedAccount/);
      await expect(
        operator.contracts.openTimelock.simulate.grantRole([zero32, operator.address]),
      ).rejects.toThrow(/AccessControlUnauthorizedAccount/);
    });

    it("refuses, even from the timelock, a fee split that does not sum to 10,000 and a penalty above 100%", async () => {
      const params = p.users[0].contracts.protocolParameters;
      const timelock = p.addresses.OpenTimelock;
      await expect(params.simulate.setFeeSplit([3000, 3000, 1000], { account: timelock })).rejects.toThrow(
        /FeeSplitNotWhole/,
      );
      await expect(params.simulate.setPenalties([10_001, 0], { account: timelock })).rejects.toThrow(/PenaltyTooLarge/);
    });

    it("stakes, unbonds after the delay, and refuses early or excessive withdrawals", async () => {
      const [operator, , , carol] = p.users;
      await p.mined(operator.contracts.openToken.write.transfer([carol.address, 2n * stake]));
      await p.mined(carol.contracts.openToken.write.approve([p.addresses.AgentStaking, 2n * stake]));
      await expect(carol.contracts.agentStaking.simulate.stake([AGENT, 0n])).rejects.toThrow(/ZeroAmount/);
      await p.mined(carol.contracts.agentStaking.write.stake([AGENT, 2n * stake]));
      expect(await carol.contracts.agentStaking.read.totalBonded([AGENT])).toBe(2n * stake);
      await expect(carol.contracts.agentStaking.simulate.unbond([AGENT, 3n * stake])).rejects.toThrow(/InsufficientStake/);
      await p.mined(carol.contracts.agentStaking.write.unbond([AGENT, stake / 2n]));
      await expect(carol.contracts.agentStaking.simulate.withdraw([AGENT])).rejects.toThrow(/StillUnbonding/);
      await p.advanceTime(TEST_CONFIG.unbondingDelaySeconds! + 1);
      await p.mined(carol.contracts.agentStaking.write.withdraw([AGENT]));
      expect(await carol.contracts.openToken.read.balanceOf([carol.address])).toBe(stake / 2n);
      await expect(carol.contracts.agentStaking.simulate.withdraw([AGENT])).rejects.toThrow(/ZeroAmount/);
      // What is unbonding can still be slashed: start unbonding some more before governance acts.
      await p.mined(carol.contracts.agentStaking.write.unbond([AGENT, stake / 2n]));
    });

    it("runs a proposal through propose, vote, queue and execute: new fee split, new penalties, a slash", async () => {
      const [operator, alice, bob, carol] = p.users;
      const governor = alice.contracts.openGovernor;
      const call = (to: Address, data: Hex) => ({ to, data });
      const actions = [
        call(
          p.addresses.ProtocolParameters,
          encodeFunctionData({ abi: operator.contracts.protocolParameters.abi, functionName: "setFeeSplit", args: [3000, 6000, 1000] }),
        ),
        call(
          p.addresses.ProtocolParameters,
          encodeFunctionData({ abi: operator.contracts.protocolParameters.abi, functionName: "setPenalties", args: [800, 5000] }),
        ),
        call(
          p.addresses.AgentStaking,
          encodeFunctionData({
            abi: operator.contracts.agentStaking.abi,
            functionName: "slash",
            args: [AGENT, carol.address, (3n * stake) / 2n, "served poisoned answers"],
          }),
        ),
      ];
      const targets = actions.map((a) => a.to);
      const values = actions.map(() => 0n);
      const calldatas = actions.map((a) => a.data);
      const description = "Pay data contributors 60%; stricter penalties; slash the research agent";
      const descriptionHash = keccak256(toHex(description));
      const proposalId = await governor.read.hashProposal([targets, values, calldatas, descriptionHash]);

      await p.mined(governor.write.propose([targets, values, calldatas, description]));
      await p.mine(TEST_CONFIG.votingDelayBlocks! + 1);
      await p.mined(alice.contracts.openGovernor.write.castVote([proposalId, 1]));
      await p.mined(bob.contracts.openGovernor.write.castVote([proposalId, 0]));
      await p.mine(TEST_CONFIG.votingPeriodBlocks! + 1);
      expect(await governor.read.state([proposalId])).toBe(ProposalState.Succeeded);

      await p.mined(governor.write.queue([targets, values, calldatas, descriptionHash]));
      expect(await governor.read.state([proposalId])).toBe(ProposalState.Queued);
      // Too early: the timelock's delay has not passed.
      await expect(governor.simulate.execute([targets, values, calldatas, descriptionHash])).rejects.toThrow(/reverted/);
      await p.advanceTime(TEST_CONFIG.timelockDelaySeconds! + 1);
      await p.mined(governor.write.execute([targets, values, calldatas, descriptionHash]));
      expect(await governor.read.state([proposalId])).toBe(ProposalState.Executed);

      const params = operator.contracts.protocolParameters;
      expect(await params.read.feeSplit()).toEqual([3000, 6000, 1000]);
      expect([await params.read.rejectionPenaltyBps(), await params.read.maliciousForfeitBps()]).toEqual([800, 5000]);
      const carolStake = await operator.contracts.agentStaking.read.stakeOf([AGENT, carol.address]);
      expect([carolStake.bonded, carolStake.unbonding]).toEqual([0n, 0n]);
      expect(await operator.contracts.agentStaking.read.totalBonded([AGENT])).toBe(0n);
      expect(await operator.contracts.openToken.read.balanceOf([p.addresses.OpenTimelock])).toBe((3n * stake) / 2n);
    });
  });
});
