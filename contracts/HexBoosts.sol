// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";

import {DepinToken} from "./DepinToken.sol";
import {H3Cell} from "./H3Cell.sol";
import {ParameterKeys} from "./ParameterKeys.sol";
import {Parameters} from "./Parameters.sol";

/// @title HexBoosts
/// @notice Demand-driven regions: boosted H3 hexes that multiply a network's rewards, bought by
///         consumers (burning DPK at a governed price) or granted by governance, and each
///         network's governance denylist.
/// @dev Per network (bytes32 id, as everywhere): a list of boosts in force or still to come,
///      and a set of denied addresses. Oracles read both with eth_call at an epoch's start block
///      (`boosts`, `denied`, paged), so an epoch's reads grow with what is in force, not with
///      history: each write looks at four boosts of its network, from a cursor that walks round
///      the list, and removes the expired ones; anyone may `prune` a range as well. A boost
///      starts with the epoch after the one it is bought in, so nobody buys into an epoch whose
///      start block is already past. Cost in DPK base units:
///      `price * multiplier * epochs * 7^(11 - resolution)`, `price` being the network's
///      `boost_price` parameter (per res-11 cell, epoch and unit of multiplier: a hex pays for
///      the res-11 cells it covers). The owner is the TimelockController after deployment.
contract HexBoosts is Ownable {
    using EnumerableSet for EnumerableSet.AddressSet;

    /// @notice `cell` is not a valid H3 cell of resolution 0 to 11.
    error InvalidHexCell(uint64 cell);
    /// @notice A boost multiplies by at least 2 (a multiplier of 1 changes nothing).
    error MultiplierTooLow(uint32 multiplier);
    /// @notice The network's `max_boost` parameter caps the multiplier; more would be clipped.
    error MultiplierAboveMax(uint32 multiplier, uint256 maximum);
    /// @notice A boost lasts at least one epoch.
    error ZeroEpochs();
    /// @notice The network's `boost_price` is 0: boosts are not for sale on it.
    error BoostPriceUnset();
    /// @notice epoch.length is 0: epochs are not configured yet.
    error EpochLengthUnset();
    /// @notice The zero address cannot be denied.
    error ZeroAddress();

    event BoostFunded(
        uint256 indexed id,
        bytes32 indexed network,
        address indexed funder,
        uint64 cell,
        uint32 multiplier,
        uint64 firstEpoch,
        uint64 lastEpoch,
        uint256 cost
    );
    event BoostGranted(
        uint256 indexed id, bytes32 indexed network, uint64 cell, uint32 multiplier, uint64 firstEpoch, uint64 lastEpoch
    );
    event BoostPruned(uint256 indexed id, bytes32 indexed network);
    event DenylistChanged(bytes32 indexed network, address indexed account, bool denied);

    /// @notice One boost: one storage slot.
    struct Boost {
        uint64 cell;
        uint32 multiplier;
        uint64 firstEpoch;
        uint64 lastEpoch;
        uint32 id;
    }

    uint256 public constant MAX_RES = 11; // finest resolution a boost may name (hotspots sit at 11)
    uint256 public constant PRUNE_PER_WRITE = 4; // boosts each write looks at for expiry

    DepinToken public immutable token;
    Parameters public immutable parameters;

    uint32 public lastBoostId; // ids start at 1
    mapping(bytes32 network => Boost[]) private _boosts;
    mapping(bytes32 network => EnumerableSet.AddressSet) private _denied;
    mapping(bytes32 network => uint256) private _pruneCursor;

    constructor(address initialOwner, DepinToken token_, Parameters parameters_) Ownable(initialOwner) {
        token = token_;
        parameters = parameters_;
    }

    // --- boosts ------------------------------------------------------------------------------

    /// @notice Burn the caller's DPK for a boost of `cell` by `multiplier` for `epochs` epochs,
    ///         starting with the next epoch. Needs an allowance of `quote(...)` for this contract.
    function fundBoost(bytes32 network, uint64 cell, uint32 multiplier, uint32 epochs)
        external
        returns (uint256 id)
    {
        (uint256 cost, uint64 current) = _quote(network, cell, multiplier, epochs);
        Boost memory boost = _add(network, cell, multiplier, epochs, current);
        emit BoostFunded(
            boost.id, network, msg.sender, cell, multiplier, boost.firstEpoch, boost.lastEpoch, cost
        );
        token.burnFrom(msg.sender, cost);
        return boost.id;
    }

    /// @notice Governance grants a boost without paying (same checks, starting next epoch).
    function grantBoost(bytes32 network, uint64 cell, uint32 multiplier, uint32 epochs)
        external
        onlyOwner
        returns (uint256 id)
    {
        (, uint64 current) = _check(network, cell, multiplier, epochs);
        Boost memory boost = _add(network, cell, multiplier, epochs, current);
        emit BoostGranted(boost.id, network, cell, multiplier, boost.firstEpoch, boost.lastEpoch);
        return boost.id;
    }

    /// @notice DPK base units a boost costs now; reverts with the reason a purchase would.
    function quote(bytes32 network, uint64 cell, uint32 multiplier, uint32 epochs)
        external
        view
        returns (uint256 cost)
    {
        (cost,) = _quote(network, cell, multiplier, epochs);
    }

    /// @notice The epoch the chain is in now (0 before genesis).
    function currentEpoch() public view returns (uint64) {
        bytes32[] memory keys = new bytes32[](2);
        keys[0] = ParameterKeys.EPOCH_GENESIS;
        keys[1] = ParameterKeys.EPOCH_LENGTH;
        uint256[] memory values = parameters.getMany(keys);
        return _epochAt(values[0], values[1]);
    }

    /// @notice Remove the boosts of `network` at indices [start, start + count) that ended
    ///         before the current epoch (anyone may: it only shortens what oracles read).
    function prune(bytes32 network, uint256 start, uint256 count) external returns (uint256 removed) {
        return _prune(network, currentEpoch(), start, count);
    }

    function boostCount(bytes32 network) external view returns (uint256) {
        return _boosts[network].length;
    }

    /// @notice Boosts `offset` .. `offset + limit - 1` of `network` (fewer at the end), in
    ///         storage order (which pruning changes: read every page at one block).
    function boosts(bytes32 network, uint256 offset, uint256 limit) external view returns (Boost[] memory page) {
        Boost[] storage all = _boosts[network];
        uint256 end = _end(offset, limit, all.length);
        page = new Boost[](end - offset);
        for (uint256 i = offset; i < end; ++i) {
            page[i - offset] = all[i];
        }
    }

    /// @notice Whether `cell` is an H3 cell a boost may name (valid, resolution 0 to 11).
    function isBoostableCell(uint64 cell) public pure returns (bool) {
        return H3Cell.isValid(cell) && H3Cell.resolution(cell) <= MAX_RES;
    }

    // --- denylist ----------------------------------------------------------------------------

    /// @notice Governance denies `accounts` on `network` (already denied ones are left as they are).
    function deny(bytes32 network, address[] calldata accounts) external onlyOwner {
        EnumerableSet.AddressSet storage set = _denied[network];
        for (uint256 i = 0; i < accounts.length; ++i) {
            if (accounts[i] == address(0)) revert ZeroAddress();
            if (set.add(accounts[i])) emit DenylistChanged(network, accounts[i], true);
        }
    }

    /// @notice Governance lifts the denial of `accounts` on `network` (others are left alone).
    function undeny(bytes32 network, address[] calldata accounts) external onlyOwner {
        EnumerableSet.AddressSet storage set = _denied[network];
        for (uint256 i = 0; i < accounts.length; ++i) {
            if (set.remove(accounts[i])) emit DenylistChanged(network, accounts[i], false);
        }
    }

    function isDenied(bytes32 network, address account) external view returns (bool) {
        return _denied[network].contains(account);
    }

    function deniedCount(bytes32 network) external view returns (uint256) {
        return _denied[network].length();
    }

    /// @notice Denied addresses `offset` .. `offset + limit - 1` of `network`, in set order.
    function denied(bytes32 network, uint256 offset, uint256 limit) external view returns (address[] memory page) {
        EnumerableSet.AddressSet storage set = _denied[network];
        uint256 end = _end(offset, limit, set.length());
        page = new address[](end - offset);
        for (uint256 i = offset; i < end; ++i) {
            page[i - offset] = set.at(i);
        }
    }

    // --- internals ---------------------------------------------------------------------------

    /// @dev min(offset + count, length), and `offset` itself when past the end (no overflow).
    function _end(uint256 offset, uint256 count, uint256 length) private pure returns (uint256) {
        if (offset >= length) return offset;
        return count < length - offset ? offset + count : length;
    }

    function _epochAt(uint256 genesis, uint256 length) private view returns (uint64) {
        if (length == 0) revert EpochLengthUnset();
        if (block.timestamp < genesis) return 0;
        return SafeCast.toUint64((block.timestamp - genesis) / length);
    }

    /// @dev Checks a boost's shape and bounds with one read of Parameters; returns the
    ///      network's boost price and the current epoch.
    function _check(bytes32 network, uint64 cell, uint32 multiplier, uint32 epochs)
        private
        view
        returns (uint256 price, uint64 current)
    {
        if (!isBoostableCell(cell)) revert InvalidHexCell(cell);
        if (multiplier < 2) revert MultiplierTooLow(multiplier);
        if (epochs == 0) revert ZeroEpochs();
        bytes32[] memory keys = new bytes32[](4);
        keys[0] = ParameterKeys.netKey(network, "boost_price");
        keys[1] = ParameterKeys.netKey(network, "max_boost");
        keys[2] = ParameterKeys.EPOCH_GENESIS;
        keys[3] = ParameterKeys.EPOCH_LENGTH;
        uint256[] memory values = parameters.getMany(keys);
        if (values[1] != 0 && multiplier > values[1]) revert MultiplierAboveMax(multiplier, values[1]);
        return (values[0], _epochAt(values[2], values[3]));
    }

    function _quote(bytes32 network, uint64 cell, uint32 multiplier, uint32 epochs)
        private
        view
        returns (uint256 cost, uint64 current)
    {
        uint256 price;
        (price, current) = _check(network, cell, multiplier, epochs);
        if (price == 0) revert BoostPriceUnset();
        cost = price * multiplier * epochs * (7 ** (MAX_RES - H3Cell.resolution(cell)));
    }

    function _add(bytes32 network, uint64 cell, uint32 multiplier, uint32 epochs, uint64 current)
        private
        returns (Boost memory boost)
    {
        uint256 length = _boosts[network].length;
        if (length > 0) {
            // Look at a few boosts from a cursor that walks round the list, so every write
            // costs about the same and an expired boost does not stay long.
            uint256 start = _pruneCursor[network] % length;
            _prune(network, current, start, PRUNE_PER_WRITE);
            _pruneCursor[network] = start + PRUNE_PER_WRITE;
        }
        uint32 id = lastBoostId + 1;
        lastBoostId = id;
        boost = Boost({
            cell: cell,
            multiplier: multiplier,
            firstEpoch: current + 1,
            lastEpoch: SafeCast.toUint64(uint256(current) + epochs),
            id: id
        });
        _boosts[network].push(boost);
    }

    /// @dev Swap-and-pop the boosts among indices [start, start + count) whose last epoch is
    ///      before `current`. Walking down keeps it correct: what moves into slot i comes from
    ///      the end, already looked at or outside the window.
    function _prune(bytes32 network, uint64 current, uint256 start, uint256 count)
        private
        returns (uint256 removed)
    {
        Boost[] storage all = _boosts[network];
        uint256 end = _end(start, count, all.length);
        for (uint256 i = end; i > start;) {
            --i;
            if (all[i].lastEpoch < current) {
                emit BoostPruned(all[i].id, network);
                all[i] = all[all.length - 1];
                all.pop();
                ++removed;
            }
        }
    }
}
