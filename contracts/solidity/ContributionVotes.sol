// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Votes} from "@openzeppelin/contracts/governance/utils/Votes.sol";

/// @notice Voting units earned by settled contribution (ERC-5805 checkpoints via OpenZeppelin Votes).
/// They are not a token: there is no transfer, and every account is its own delegate for good, so
/// voting power always sits with the contributor who earned it and cannot be sold or lent. Because of
/// that, an account's units are its latest vote checkpoint; nothing else is stored per account.
contract ContributionVotes is Votes, AccessControl {
    bytes32 public constant SETTLEMENT_ROLE = keccak256("SETTLEMENT_ROLE");

    event VotingUnitsMinted(address indexed account, uint256 amount, uint256 cumulativeUnits);

    error LengthMismatch();
    error CumulativeUnitsDecreased(address account, uint256 cumulativeUnits, uint256 currentUnits);
    error VotesNotDelegable();

    constructor(address admin) EIP712("OpenLedger Contribution Votes", "1") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Raises each account's units to its cumulative settled contribution. Cumulative (not
    /// additive) so that replaying the same settlement mints nothing.
    function mintCumulative(address[] calldata accounts, uint256[] calldata cumulativeUnits)
        external
        onlyRole(SETTLEMENT_ROLE)
    {
        if (accounts.length != cumulativeUnits.length) revert LengthMismatch();
        for (uint256 i = 0; i < accounts.length; ++i) {
            address account = accounts[i];
            uint256 current = getVotes(account);
            uint256 target = cumulativeUnits[i];
            if (target < current) revert CumulativeUnitsDecreased(account, target, current);
            if (target == current) continue;
            _transferVotingUnits(address(0), account, target - current);
            emit VotingUnitsMinted(account, target - current, target);
        }
    }

    /// @notice The units settled for `account` so far.
    function votingUnits(address account) external view returns (uint256) {
        return getVotes(account);
    }

    function delegates(address account) public pure override returns (address) {
        return account;
    }

    function delegate(address) public pure override {
        revert VotesNotDelegable();
    }

    function delegateBySig(address, uint256, uint256, uint8, bytes32, bytes32) public pure override {
        revert VotesNotDelegable();
    }

    function _getVotingUnits(address account) internal view override returns (uint256) {
        return getVotes(account);
    }
}
