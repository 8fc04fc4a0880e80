// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @notice The attribution root of each settled epoch, written exactly once.
/// Only the root is kept in storage (one slot keeps `anchor` under 60k gas); the epoch's total fees
/// travel in the event, where indexers read them.
contract AttributionAnchor is AccessControl {
    bytes32 public constant SETTLEMENT_ROLE = keccak256("SETTLEMENT_ROLE");

    mapping(uint256 epoch => bytes32 root) public rootOf;

    event EpochAnchored(uint256 indexed epoch, bytes32 root, uint256 totalFees);

    error EpochAlreadyAnchored(uint256 epoch, bytes32 root);
    error EmptyRoot();

    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    function anchor(uint256 epoch, bytes32 root, uint256 totalFees) external onlyRole(SETTLEMENT_ROLE) {
        if (root == bytes32(0)) revert EmptyRoot();
        bytes32 existing = rootOf[epoch];
        if (existing != bytes32(0)) revert EpochAlreadyAnchored(epoch, existing);
        rootOf[epoch] = root;
        emit EpochAnchored(epoch, root, totalFees);
    }
}
