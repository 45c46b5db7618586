// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {DepinToken} from "./DepinToken.sol";
import {OracleSet} from "./OracleSet.sol";
import {ParameterKeys} from "./ParameterKeys.sol";
import {Parameters} from "./Parameters.sol";

/// @title Credits
/// @notice Burn-and-mint payments: consumers burn tokens for non-transferable service credits
///         priced in USD.
/// @dev The token's USD price arrives with an oracle-quorum signature and is refused when stale
///      or from the future, so a consumer pays the current price without an on-chain price feed.
///      Credits have no transfer function at all: they are spent off-chain with signed receipts.
contract Credits is EIP712 {
    error StalePrice(uint64 timestamp, uint64 maxAge);
    error PriceFromFuture();
    error ZeroCredits();
    error CreditPriceUnset();
    error ZeroAddress();

    event CreditsPurchased(
        address indexed buyer, address indexed beneficiary, uint256 tokens, uint256 credits, uint256 priceUsdE8
    );

    bytes32 public constant TOKEN_PRICE_TYPEHASH = keccak256("TokenPrice(uint256 priceUsdE8,uint64 timestamp)");

    DepinToken public immutable token;
    Parameters public immutable parameters;
    OracleSet public immutable oracleSet;

    mapping(address account => uint256 amount) public credits;

    constructor(DepinToken token_, Parameters parameters_, OracleSet oracleSet_) EIP712("Credits", "1") {
        token = token_;
        parameters = parameters_;
        oracleSet = oracleSet_;
    }

    /// @notice Burn `tokenAmount` of the caller's tokens and credit `beneficiary` at the signed price.
    function buyCredits(
        address beneficiary,
        uint256 tokenAmount,
        uint256 priceUsdE8,
        uint64 priceTimestamp,
        bytes[] calldata signatures
    ) external {
        if (beneficiary == address(0)) revert ZeroAddress();
        if (priceTimestamp > block.timestamp) revert PriceFromFuture();
        bytes32[] memory keys = new bytes32[](2);
        keys[0] = ParameterKeys.CREDIT_PRICE_USD_E8;
        keys[1] = ParameterKeys.CREDIT_PRICE_MAX_AGE;
        uint256[] memory values = parameters.getMany(keys);
        uint256 creditPrice = values[0];
        uint256 maxAge = values[1];
        if (block.timestamp - priceTimestamp > maxAge) revert StalePrice(priceTimestamp, uint64(maxAge));
        if (creditPrice == 0) revert CreditPriceUnset();
        uint256 amount = Math.mulDiv(tokenAmount, priceUsdE8, creditPrice);
        if (amount == 0) revert ZeroCredits();

        bytes32 digest =
            _hashTypedDataV4(keccak256(abi.encode(TOKEN_PRICE_TYPEHASH, priceUsdE8, priceTimestamp)));
        oracleSet.verifyQuorum(digest, signatures);

        credits[beneficiary] += amount;
        emit CreditsPurchased(msg.sender, beneficiary, tokenAmount, amount, priceUsdE8);
        token.burnFrom(msg.sender, tokenAmount);
    }
}
