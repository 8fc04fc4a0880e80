// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {OpenToken} from "./OpenToken.sol";

/// @notice Cumulative Merkle claims of OPEN rewards. Each epoch's root commits to every account's
/// total earnings so far; a claim pays the difference to what the account already received, so an
/// old or repeated proof can never pay twice. Leaves follow the OpenZeppelin merkle-tree library's standard
/// encoding for `(address, uint256)`: keccak256(bytes.concat(keccak256(abi.encode(account, amount)))).
/// What each account has received is kept by OpenToken in the slot of the account's balance
/// (`payReward`), so a claim writes one slot rather than two; the treasury binds this contract as the
/// token's only reward payer (`OpenToken.bindRewardDistributor`) right after deploying it.
contract RewardDistributor is AccessControl {
    bytes32 public constant SETTLEMENT_ROLE = keccak256("SETTLEMENT_ROLE");

    OpenToken public immutable token;
    bytes32 public currentRoot;
    uint256 public currentEpoch;
    mapping(uint256 epoch => bytes32 root) public rootOf;

    event RootSet(uint256 indexed epoch, bytes32 root);
    event Claimed(address indexed account, uint256 amount, uint256 cumulativeAmount);

    error EpochNotAfterCurrent(uint256 epoch, uint256 currentEpoch);
    error EmptyRoot();
    error InvalidProof(address account, uint256 cumulativeAmount);
    /// Raised by OpenToken.payReward and passed through; declared here so callers can decode it.
    error NothingToClaim(address account, uint256 cumulativeAmount, uint256 alreadyClaimed);

    constructor(OpenToken rewardToken, address admin) {
        token = rewardToken;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Publishes the root of an epoch; epochs only move forward.
    function setRoot(uint256 epoch, bytes32 root) external onlyRole(SETTLEMENT_ROLE) {
        if (root == bytes32(0)) revert EmptyRoot();
        if (epoch <= currentEpoch) revert EpochNotAfterCurrent(epoch, currentEpoch);
        currentEpoch = epoch;
        currentRoot = root;
        rootOf[epoch] = root;
        emit RootSet(epoch, root);
    }

    /// @notice Pays `account` what the current root owes it beyond what it has claimed. Anyone may
    /// submit the claim; the tokens always go to `account`.
    function claim(address account, uint256 cumulativeAmount, bytes32[] calldata proof) external {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount))));
        if (!MerkleProof.verifyCalldata(proof, currentRoot, leaf)) revert InvalidProof(account, cumulativeAmount);
        uint256 amount = token.payReward(account, cumulativeAmount);
        emit Claimed(account, amount, cumulativeAmount);
    }

    /// @notice Cumulative OPEN paid to `account` by claims.
    function claimed(address account) external view returns (uint256) {
        return token.rewardsClaimed(account);
    }
}
