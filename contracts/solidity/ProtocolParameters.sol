// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice Protocol parameters that only governance (the timelock, as owner) may change.
contract ProtocolParameters is Ownable {
    uint16 public constant BPS = 10_000;

    /// Shares of each inference fee, in basis points: model developer, data contributors, protocol.
    uint16 public modelShareBps;
    uint16 public dataShareBps;
    uint16 public protocolShareBps;
    /// Reputation removed from a contributor per rejected record, in basis points of their reputation.
    uint16 public rejectionPenaltyBps;
    /// Share of an epoch's reward a contributor forfeits when their data is judged malicious.
    uint16 public maliciousForfeitBps;

    event FeeSplitChanged(uint16 modelShareBps, uint16 dataShareBps, uint16 protocolShareBps);
    event PenaltiesChanged(uint16 rejectionPenaltyBps, uint16 maliciousForfeitBps);

    error FeeSplitNotWhole(uint256 sumBps);
    error PenaltyTooLarge(uint16 bps);

    constructor(
        address governance,
        uint16 modelBps,
        uint16 dataBps,
        uint16 protocolBps,
        uint16 rejectionBps,
        uint16 maliciousBps
    ) Ownable(governance) {
        _setFeeSplit(modelBps, dataBps, protocolBps);
        _setPenalties(rejectionBps, maliciousBps);
    }

    function setFeeSplit(uint16 modelBps, uint16 dataBps, uint16 protocolBps) external onlyOwner {
        _setFeeSplit(modelBps, dataBps, protocolBps);
    }

    function setPenalties(uint16 rejectionBps, uint16 maliciousBps) external onlyOwner {
        _setPenalties(rejectionBps, maliciousBps);
    }

    function feeSplit() external view returns (uint16, uint16, uint16) {
        return (modelShareBps, dataShareBps, protocolShareBps);
    }

    function _setPenalties(uint16 rejectionBps, uint16 maliciousBps) private {
        if (rejectionBps > BPS) revert PenaltyTooLarge(rejectionBps);
        if (maliciousBps > BPS) revert PenaltyTooLarge(maliciousBps);
        rejectionPenaltyBps = rejectionBps;
        maliciousForfeitBps = maliciousBps;
        emit PenaltiesChanged(rejectionBps, maliciousBps);
    }

    function _setFeeSplit(uint16 modelBps, uint16 dataBps, uint16 protocolBps) private {
        uint256 sum = uint256(modelBps) + dataBps + protocolBps;
        if (sum != BPS) revert FeeSplitNotWhole(sum);
        modelShareBps = modelBps;
        dataShareBps = dataBps;
        protocolShareBps = protocolBps;
        emit FeeSplitChanged(modelBps, dataBps, protocolBps);
    }
}
