// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title Parameters
/// @notice The governed rule book of a depinkit deployment: one uint256 per bytes32 key.
/// @dev Keys are `keccak256(bytes(name))` for global parameters and
///      `keccak256(abi.encodePacked(network, name))` for per-network ones, so the contract never
///      needs to know which parameters exist; oracles read them at an epoch's start block with
///      eth_call. The owner is the TimelockController after deployment, so only a passed
///      governance proposal changes a rule.
contract Parameters is Ownable {
    /// @notice `keys` and `values` passed to {setMany} differ in length.
    error LengthMismatch();

    event ParameterSet(bytes32 indexed key, uint256 value);

    mapping(bytes32 key => uint256 value) private _values;

    constructor(address initialOwner) Ownable(initialOwner) {}

    function set(bytes32 key, uint256 value) external onlyOwner {
        _set(key, value);
    }

    function setMany(bytes32[] calldata keys, uint256[] calldata values) external onlyOwner {
        if (keys.length != values.length) revert LengthMismatch();
        for (uint256 i = 0; i < keys.length; ++i) {
            _set(keys[i], values[i]);
        }
    }

    function get(bytes32 key) external view returns (uint256) {
        return _values[key];
    }

    function getMany(bytes32[] calldata keys) external view returns (uint256[] memory values) {
        values = new uint256[](keys.length);
        for (uint256 i = 0; i < keys.length; ++i) {
            values[i] = _values[keys[i]];
        }
    }

    function _set(bytes32 key, uint256 value) private {
        _values[key] = value;
        emit ParameterSet(key, value);
    }
}
