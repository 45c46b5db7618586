// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title H3Cell
/// @notice Validity and resolution of an H3 cell index (H3 v4 bit layout), as h3's isValidCell.
/// @dev 64 bits, high to low: 1 reserved bit (0), 4 mode bits (1 = cell), 3 reserved bits (0),
///      4 resolution bits, 7 base-cell bits (< 122), then fifteen 3-bit digits for resolutions
///      1..15: 0..6 up to the cell's resolution, 7 below it. A pentagon base cell has no
///      sub-sequence starting with digit 1 (its deleted K axis), so its first non-zero digit
///      must not be 1.
library H3Cell {
    uint256 internal constant MAX_RES = 15;
    uint256 internal constant BASE_CELLS = 122;
    // Bit b set for each of the 12 pentagon base cells: 4 14 24 38 49 58 63 72 83 97 107 117.
    uint256 internal constant PENTAGONS = (1 << 4) | (1 << 14) | (1 << 24) | (1 << 38) | (1 << 49)
        | (1 << 58) | (1 << 63) | (1 << 72) | (1 << 83) | (1 << 97) | (1 << 107) | (1 << 117);

    function resolution(uint64 cell) internal pure returns (uint256) {
        return (uint256(cell) >> 52) & 0xF;
    }

    function isValid(uint64 cell) internal pure returns (bool) {
        uint256 h = uint256(cell);
        if (h >> 63 != 0) return false; // reserved high bit
        if ((h >> 59) & 0xF != 1) return false; // mode: cell
        if ((h >> 56) & 0x7 != 0) return false; // reserved (edge/vertex bits)
        uint256 base = (h >> 45) & 0x7F;
        if (base >= BASE_CELLS) return false;
        uint256 res = (h >> 52) & 0xF;
        bool pentagon = (PENTAGONS >> base) & 1 == 1;
        bool leading = true; // still in the run of zero digits from resolution 1
        for (uint256 r = 1; r <= MAX_RES; ++r) {
            uint256 digit = (h >> ((MAX_RES - r) * 3)) & 0x7;
            if (r > res) {
                if (digit != 7) return false;
                continue;
            }
            if (digit == 7) return false;
            if (leading && digit != 0) {
                if (pentagon && digit == 1) return false;
                leading = false;
            }
        }
        return true;
    }
}
