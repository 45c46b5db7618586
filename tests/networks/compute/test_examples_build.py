"""The committed example modules are what examples/compute/build.sh builds from source.

Skipped where Debian's wasm toolchain (clang, lld, wasi-libc, libclang-rt-14-dev-wasm32) is
missing; CI images with it check that nobody committed a module built from other sources.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "examples" / "compute" / "build.sh"
COMMITTED = ROOT / "src" / "depinkit" / "networks" / "compute" / "examples"
NAMES = ("render", "csvagg")


def _toolchain() -> bool:
    return (
        shutil.which("clang") is not None
        and shutil.which("wasm-ld") is not None
        and Path("/usr/lib/wasm32-wasi/libc.a").exists()
        and any(Path("/usr/lib").glob("llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a"))
    )


@pytest.mark.skipif(not _toolchain(), reason="no clang/lld/wasi-libc/compiler-rt for wasm32")
def test_committed_modules_match_a_rebuild(tmp_path: Path) -> None:
    subprocess.run(["sh", str(BUILD), str(tmp_path)], check=True, capture_output=True)
    for name in NAMES:
        rebuilt = (tmp_path / f"{name}.wasm").read_bytes()
        assert rebuilt == (COMMITTED / f"{name}.wasm").read_bytes(), f"{name}.wasm is stale"


def test_every_example_source_has_a_committed_module() -> None:
    sources = sorted(p.stem for p in (ROOT / "examples" / "compute").glob("*.c"))
    assert sources == sorted(NAMES)
    for name in NAMES:
        assert (COMMITTED / f"{name}.wasm").read_bytes()[:8] == b"\0asm\x01\0\0\0"
