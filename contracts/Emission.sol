// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title Emission
/// @notice The halving emission schedule: epoch i emits `initial >> (i / halvingEpochs)`.
/// @dev Summed in closed form per halving period, so the cost is bounded by the number of
///      halvings (at most 256 before the shift zeroes), not by the epoch number. Saturating math
///      plus the cap keep any governed value from overflowing.
library Emission {
    /// @notice Total emission of epochs 0..epoch inclusive, capped at `cap`.
    /// @param halvingEpochs 0 means no halving: a constant `initial` per epoch.
    function emittedThrough(uint64 epoch, uint256 initial, uint256 halvingEpochs, uint256 cap)
        internal
        pure
        returns (uint256)
    {
        uint256 epochs = uint256(epoch) + 1;
        if (halvingEpochs == 0) return Math.min(Math.saturatingMul(initial, epochs), cap);
        uint256 periods = epochs / halvingEpochs;
        uint256 sum = 0;
        for (uint256 k = 0; k < periods; ++k) {
            uint256 perEpoch = initial >> k;
            if (perEpoch == 0) return Math.min(sum, cap);
            sum = Math.saturatingAdd(sum, Math.saturatingMul(perEpoch, halvingEpochs));
            if (sum >= cap) return cap;
        }
        uint256 rest = epochs % halvingEpochs;
        if (periods < 256) {
            sum = Math.saturatingAdd(sum, Math.saturatingMul(initial >> periods, rest));
        }
        return Math.min(sum, cap);
    }
}
