// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ParameterKeys
/// @notice The Parameters keys the contracts read, derived exactly as depinkit.chain derives them.
/// @dev Global key: keccak256(bytes(name)). Per-network key: keccak256(abi.encodePacked(network, name))
///      with `network = keccak256(bytes(networkName))`.
library ParameterKeys {
    bytes32 internal constant EPOCH_GENESIS = keccak256("epoch.genesis");
    bytes32 internal constant EPOCH_LENGTH = keccak256("epoch.length");
    bytes32 internal constant EMISSION_INITIAL = keccak256("emission.initial");
    bytes32 internal constant EMISSION_HALVING_EPOCHS = keccak256("emission.halvingEpochs");
    bytes32 internal constant UNBONDING_PERIOD = keccak256("registry.unbondingPeriod");
    bytes32 internal constant CREDIT_PRICE_USD_E8 = keccak256("credits.priceUsdE8");
    bytes32 internal constant CREDIT_PRICE_MAX_AGE = keccak256("credits.priceMaxAge");

    function netKey(bytes32 network, string memory name) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(network, name));
    }
}
