// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @notice OPEN staked behind agents. Unstaking waits out an unbonding delay, during which the stake
/// can still be slashed; only governance (the owner: the timelock) slashes, and slashed tokens go to it.
contract AgentStaking is Ownable {
    using SafeERC20 for IERC20;

    struct Stake {
        uint128 bonded;
        uint128 unbonding;
        uint64 unbondsAt;
    }

    IERC20 public immutable token;
    uint64 public immutable unbondingDelay;
    mapping(bytes32 agentId => mapping(address staker => Stake)) private _stakes;
    mapping(bytes32 agentId => uint256 amount) public totalBonded;

    event Staked(bytes32 indexed agentId, address indexed staker, uint256 amount);
    event UnbondingStarted(bytes32 indexed agentId, address indexed staker, uint256 amount, uint64 unbondsAt);
    event Withdrawn(bytes32 indexed agentId, address indexed staker, uint256 amount);
    event Slashed(bytes32 indexed agentId, address indexed staker, uint256 amount, string reason);

    error ZeroAmount();
    error InsufficientStake(uint256 requested, uint256 available);
    error StillUnbonding(uint64 unbondsAt);

    constructor(IERC20 stakeToken, address governance, uint64 unbondingDelaySeconds) Ownable(governance) {
        token = stakeToken;
        unbondingDelay = unbondingDelaySeconds;
    }

    function stake(bytes32 agentId, uint128 amount) external {
        if (amount == 0) revert ZeroAmount();
        token.safeTransferFrom(msg.sender, address(this), amount);
        _stakes[agentId][msg.sender].bonded += amount;
        totalBonded[agentId] += amount;
        emit Staked(agentId, msg.sender, amount);
    }

    /// @notice Moves `amount` of the caller's bonded stake into unbonding; the delay restarts.
    function unbond(bytes32 agentId, uint128 amount) external {
        if (amount == 0) revert ZeroAmount();
        Stake storage s = _stakes[agentId][msg.sender];
        if (amount > s.bonded) revert InsufficientStake(amount, s.bonded);
        s.bonded -= amount;
        s.unbonding += amount;
        s.unbondsAt = uint64(block.timestamp) + unbondingDelay;
        totalBonded[agentId] -= amount;
        emit UnbondingStarted(agentId, msg.sender, amount, s.unbondsAt);
    }

    function withdraw(bytes32 agentId) external {
        Stake storage s = _stakes[agentId][msg.sender];
        uint128 amount = s.unbonding;
        if (amount == 0) revert ZeroAmount();
        if (block.timestamp < s.unbondsAt) revert StillUnbonding(s.unbondsAt);
        s.unbonding = 0;
        token.safeTransfer(msg.sender, amount);
        emit Withdrawn(agentId, msg.sender, amount);
    }

    /// @notice Takes `amount` from the staker's bonded stake, then from what is unbonding.
    function slash(bytes32 agentId, address staker, uint128 amount, string calldata reason) external onlyOwner {
        if (amount == 0) revert ZeroAmount();
        Stake storage s = _stakes[agentId][staker];
        uint256 available = uint256(s.bonded) + s.unbonding;
        if (amount > available) revert InsufficientStake(amount, available);
        uint128 fromBonded = amount < s.bonded ? amount : s.bonded;
        s.bonded -= fromBonded;
        s.unbonding -= amount - fromBonded;
        totalBonded[agentId] -= fromBonded;
        token.safeTransfer(owner(), amount);
        emit Slashed(agentId, staker, amount, reason);
    }

    function stakeOf(bytes32 agentId, address staker) external view returns (Stake memory) {
        return _stakes[agentId][staker];
    }
}
