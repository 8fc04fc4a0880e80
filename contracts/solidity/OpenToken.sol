// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @notice OPEN: the platform's payment and reward token (ERC-20 with EIP-2612 permits). The whole
/// supply is minted once, to the treasury, at deployment; there is no minter, so supply can never be
/// inflated later.
///
/// Each account's balance shares one storage slot with the cumulative rewards the RewardDistributor
/// has paid it, so a reward claim writes a single slot (a first claim by a new holder would otherwise
/// write two slots from zero and cost over 80k gas). Balances are therefore uint128: the constructor
/// refuses a supply of 2^128 or more (the real supply, 10^27 base units, is below 2^90), and no
/// balance can exceed the supply.
contract OpenToken is IERC20, IERC20Metadata, IERC20Permit, IERC20Errors, EIP712, Nonces {
    struct Holder {
        uint128 balance;
        /// Cumulative OPEN the RewardDistributor has paid this account; only `payReward` changes it.
        uint128 rewardsClaimed;
    }

    bytes32 private constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    uint256 public immutable totalSupply;
    /// The deployer of the platform; the only origin that may bind the reward distributor.
    address private immutable _treasury;
    /// The one contract allowed to call `payReward`; set once, by the distributor's constructor.
    address public rewardDistributor;

    mapping(address account => Holder) private _holders;
    mapping(address owner => mapping(address spender => uint256)) public allowance;

    error ERC2612ExpiredSignature(uint256 deadline);
    error ERC2612InvalidSigner(address signer, address owner);
    error RewardDistributorAlreadyBound(address rewardDistributor);
    error RewardDistributorBindNotByTreasury(address caller);
    error NotRewardDistributor(address caller);
    error NothingToClaim(address account, uint256 cumulativeAmount, uint256 alreadyClaimed);

    constructor(address treasury, uint256 supply) EIP712("OpenLedger", "1") {
        if (treasury == address(0)) revert ERC20InvalidReceiver(address(0));
        totalSupply = supply;
        _treasury = treasury;
        _holders[treasury].balance = SafeCast.toUint128(supply);
        emit Transfer(address(0), treasury, supply);
    }

    function name() external pure returns (string memory) {
        return "OpenLedger";
    }

    function symbol() external pure returns (string memory) {
        return "OPEN";
    }

    function decimals() external pure returns (uint8) {
        return 18;
    }

    function balanceOf(address account) external view returns (uint256) {
        return _holders[account].balance;
    }

    /// @notice Cumulative OPEN the reward distributor has paid `account`.
    function rewardsClaimed(address account) external view returns (uint256) {
        return _holders[account].rewardsClaimed;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < value) revert ERC20InsufficientAllowance(msg.sender, allowed, value);
            unchecked {
                allowance[from][msg.sender] = allowed - value;
            }
        }
        _transfer(from, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        _approve(msg.sender, spender, value);
        return true;
    }

    function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
    {
        if (block.timestamp > deadline) revert ERC2612ExpiredSignature(deadline);
        bytes32 structHash = keccak256(abi.encode(PERMIT_TYPEHASH, owner, spender, value, _useNonce(owner), deadline));
        address signer = ECDSA.recover(_hashTypedDataV4(structHash), v, r, s);
        if (signer != owner) revert ERC2612InvalidSigner(signer, owner);
        _approve(owner, spender, value);
    }

    function nonces(address owner) public view override(IERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice Names the RewardDistributor, once, by the treasury (the platform's deployer; the
    /// deploy script does it right after deploying the distributor): from then on only that
    /// contract may pay rewards.
    function bindRewardDistributor(address distributor) external {
        if (msg.sender != _treasury) revert RewardDistributorBindNotByTreasury(msg.sender);
        if (rewardDistributor != address(0)) revert RewardDistributorAlreadyBound(rewardDistributor);
        if (distributor == address(0)) revert ERC20InvalidReceiver(address(0));
        rewardDistributor = distributor;
    }

    /// @notice Pays `account` the part of `cumulativeAmount` not yet paid to it, from the distributor's
    /// balance, and records `cumulativeAmount` as paid, in the same slot as the account's balance.
    function payReward(address account, uint256 cumulativeAmount) external returns (uint256 amount) {
        if (msg.sender != rewardDistributor) revert NotRewardDistributor(msg.sender);
        if (account == address(0)) revert ERC20InvalidReceiver(address(0));
        uint256 alreadyClaimed = _holders[account].rewardsClaimed;
        if (cumulativeAmount <= alreadyClaimed) revert NothingToClaim(account, cumulativeAmount, alreadyClaimed);
        amount = cumulativeAmount - alreadyClaimed;
        _debit(msg.sender, amount);
        // Read after the debit, so a payment to the distributor itself sees its reduced balance.
        uint128 balance = _holders[account].balance;
        // Cannot overflow: the amount came out of another balance and all balances sum to totalSupply.
        unchecked {
            _holders[account] = Holder(balance + uint128(amount), SafeCast.toUint128(cumulativeAmount));
        }
        emit Transfer(msg.sender, account, amount);
    }

    function _transfer(address from, address to, uint256 value) private {
        if (from == address(0)) revert ERC20InvalidSender(address(0));
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        _debit(from, value);
        unchecked {
            _holders[to].balance += uint128(value);
        }
        emit Transfer(from, to, value);
    }

    /// Takes `value` from `from`'s balance; value fits uint128 afterwards since it is at most a balance.
    function _debit(address from, uint256 value) private {
        uint256 balance = _holders[from].balance;
        if (balance < value) revert ERC20InsufficientBalance(from, balance, value);
        unchecked {
            _holders[from].balance = uint128(balance - value);
        }
    }

    function _approve(address owner, address spender, uint256 value) private {
        if (owner == address(0)) revert ERC20InvalidApprover(address(0));
        if (spender == address(0)) revert ERC20InvalidSpender(address(0));
        allowance[owner][spender] = value;
        emit Approval(owner, spender, value);
    }
}
