// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @notice OPEN: the platform's payment and reward token. The whole supply is minted once, to the
/// treasury, at deployment; there is no minter, so supply can never be inflated later.
contract OpenToken is ERC20, ERC20Permit {
    constructor(address treasury, uint256 supply) ERC20("OpenLedger", "OPEN") ERC20Permit("OpenLedger") {
        _mint(treasury, supply);
    }
}
