"""The example jobs shipped with the package (sources and build script in examples/compute/).

* ``render``: ``render FRAME WIDTH HEIGHT [MAX_ITER]`` writes ``/out/frame-FRAME.ppm``
  (FRAME zero-padded to five digits), one frame of a Mandelbrot zoom as a binary PPM;
* ``csvagg``: ``csvagg KEY_COLUMN VALUE_COLUMN`` aggregates every ``/in/*.csv`` into
  ``/out/summary.csv`` (key,count,sum,min,max).
"""

from __future__ import annotations

from importlib.resources import files
from typing import Final

EXAMPLES: Final[tuple[str, ...]] = ("csvagg", "render")


def example_module(name: str) -> bytes:
    """The committed WebAssembly module of example ``name``."""
    if name not in EXAMPLES:
        raise KeyError(f"no example module {name!r}; there are {', '.join(EXAMPLES)}")
    return files("depinkit.networks.compute").joinpath(f"examples/{name}.wasm").read_bytes()
