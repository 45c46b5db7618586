"""The committed example modules: the frame renderer and the CSV aggregation job."""

from __future__ import annotations

from compute_sandbox_kit import example, job

from depinkit.core.keys import keccak256
from depinkit.networks.compute.jobs import JobResult
from depinkit.networks.compute.runner import Runner
from depinkit.networks.compute.sandbox import raise_for_status

# Pinned: the committed render.wasm on wasmtime 50 gives these for frame 7 at 64x48, 300
# iterations. A change means the module or the sandbox's determinism changed.
FRAME_7_KECCAK = "91afab473ff5269e2a22513fb53719d8d1f19a280314e9d5a1d065a29e696c3c"
FRAME_7_FUEL = 13_581_216


def _render(
    runner: Runner, frame: int, width: int, height: int, iterations: int = 300
) -> JobResult:
    spec = job(
        example("render"), args=["render", str(frame), str(width), str(height), str(iterations)]
    )
    return raise_for_status(runner.execute(spec))


def test_render_writes_one_binary_ppm_frame() -> None:
    result = _render(Runner(), 7, 64, 48)
    assert list(result.outputs) == ["frame-00007.ppm"]
    frame = result.outputs["frame-00007.ppm"]
    header = b"P6\n64 48\n255\n"
    assert frame.startswith(header) and len(frame) == len(header) + 64 * 48 * 3
    assert result.stdout == b"frame 7: 64x48, 300 iterations max\n"
    assert keccak256(frame).hex() == FRAME_7_KECCAK
    assert result.fuel_used == FRAME_7_FUEL


def test_render_is_deterministic_and_frames_differ() -> None:
    runner = Runner()
    first, again, other = (
        _render(runner, 3, 32, 24),
        _render(runner, 3, 32, 24),
        _render(runner, 4, 32, 24),
    )
    assert first == again
    assert first.outputs["frame-00003.ppm"] != other.outputs["frame-00004.ppm"]


def test_render_refuses_bad_arguments() -> None:
    spec = job(example("render"), args=["render", "1"])
    result = Runner().execute(spec)
    assert (result.status, result.exit_code) == ("ok", 2)
    assert b"usage" in result.stderr


def test_csvagg_groups_over_files_in_name_order_and_counts_rejects() -> None:
    inputs = {
        "b.csv": b"amount,city\n10,rome\n-2,oslo\n",
        "a.csv": b"city,amount\nparis,3\nrome,4\nparis,x\n",
        "c.csv": b"city,other\nparis,1\n",  # lacks the value column: skipped
    }
    spec = job(example("csvagg"), args=["csvagg", "city", "amount"], inputs=inputs)
    result = raise_for_status(Runner().execute(spec))
    assert result.outputs == {
        "summary.csv": b"city,count,sum,min,max\noslo,1,-2,-2,-2\nparis,1,3,3,3\nrome,2,14,4,10\n",
        "rejected.txt": b"1\n",
    }
    assert result.stdout == b"2 files, 3 groups, 1 rejected lines\n"
    assert b"c.csv lacks column" in result.stderr
