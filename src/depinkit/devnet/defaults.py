"""What `depinkit devnet` runs when not told otherwise (import-light: the CLI reads it early).

Every network, each at the smallest size that shows what it does: five storage providers for
3-of-5 erasure coding, two compute providers so a job can be verified on the other, six
hotspots so each beacon has several witnesses and hexes get HIP-17 scaling.
"""

from __future__ import annotations

from typing import Final

STORAGE_PROVIDERS: Final[int] = 5
COMPUTE_PROVIDERS: Final[int] = 2
HOTSPOTS: Final[int] = 6
