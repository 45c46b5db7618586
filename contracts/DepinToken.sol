// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title DepinToken
/// @notice The network token: rewards are paid in it, stake is locked in it, credits are bought by
///         burning it, and its holders govern through checkpointed votes.
/// @dev Everything is OpenZeppelin; this contract only wires the extensions together. Only the
///      RewardsDistributor holds MINTER_ROLE, so emission follows the on-chain schedule.
contract DepinToken is ERC20, ERC20Permit, ERC20Votes, ERC20Capped, ERC20Burnable, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @notice Supply minted at construction (counted against the cap); the emission schedule
    ///         may mint at most `cap() - initialSupply()`.
    uint256 public immutable initialSupply;

    constructor(uint256 cap_, uint256 initialSupply_, address initialHolder, address admin)
        ERC20("depinkit", "DPK")
        ERC20Permit("depinkit")
        ERC20Capped(cap_)
    {
        initialSupply = initialSupply_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (initialSupply_ > 0) _mint(initialHolder, initialSupply_);
    }

    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value)
        internal
        override(ERC20, ERC20Votes, ERC20Capped)
    {
        super._update(from, to, value);
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
