"""Hostile and tiny WebAssembly modules, written as WAT and compiled by wasmtime.wat2wasm."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import wasmtime

from depinkit.networks.compute.jobs import Job, JobLimits

EXAMPLES: Final[Path] = (
    Path(__file__).resolve().parents[3] / "src" / "depinkit" / "networks" / "compute" / "examples"
)

LIMITS: Final[JobLimits] = JobLimits(
    fuel=2_000_000_000,  # ~2 s of compute
    memory_bytes=32 * 1024 * 1024,  # 32 MiB
    wall_ms=20_000,  # generous on two shared cores; the epoch ends loops long before
    output_bytes=1024 * 1024,  # 1 MiB
)

_WASI = '(import "wasi_snapshot_preview1" "{name}" (func ${name} {sig}))'
_FD_WRITE = _WASI.format(name="fd_write", sig="(param i32 i32 i32 i32) (result i32)")


def wat(text: str) -> bytes:
    return wasmtime.wat2wasm(text)


# Writes "hello\n" to stdout and returns (exit code 0).
HELLO: Final[str] = f"""(module
  {_FD_WRITE}
  (memory (export "memory") 1)
  (data (i32.const 16) "hello\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))   ;; iovec.buf
    (i32.store (i32.const 4) (i32.const 6))    ;; iovec.len
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"""

INFINITE_LOOP: Final[str] = """(module
  (memory (export "memory") 1)
  (func (export "_start") (loop $l (br $l))))"""

# Grows memory one MiB at a time until the limiter refuses, then traps.
MEMORY_BOMB: Final[str] = """(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $l
      (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    unreachable))"""

# Asks for 4 GiB of memory before running a single instruction.
MEMORY_BOMB_AT_START: Final[str] = """(module
  (memory (export "memory") 65536)
  (func (export "_start")))"""

# Writes the same 64 KiB to stdout forever, ignoring errors.
HUGE_STDOUT: Final[str] = f"""(module
  {_FD_WRITE}
  (memory (export "memory") 2)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 65536))
    (i32.store (i32.const 4) (i32.const 65536))
    (loop $l
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (br $l))))"""

# Creates /out/big (fd 4 is the second preopen, /out) and writes to it forever.
_PATH_OPEN = _WASI.format(
    name="path_open", sig="(param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)"
)
HUGE_FILE: Final[str] = f"""(module
  {_FD_WRITE}
  {_PATH_OPEN}
  (memory (export "memory") 2)
  (data (i32.const 32) "big")
  (func (export "_start")
    ;; path_open(dirfd=4, lookup=0, path=32, len=3, oflags=CREAT|TRUNC, rights, rights, 0, &fd=16)
    (drop (call $path_open (i32.const 4) (i32.const 0) (i32.const 32) (i32.const 3)
      (i32.const 9) (i64.const 0x3fffffff) (i64.const 0x3fffffff) (i32.const 0) (i32.const 16)))
    (i32.store (i32.const 0) (i32.const 65536))
    (i32.store (i32.const 4) (i32.const 65536))
    (loop $l
      (drop (call $fd_write (i32.load (i32.const 16)) (i32.const 0) (i32.const 1) (i32.const 8)))
      (br $l))))"""

FORBIDDEN_ENV: Final[str] = """(module
  (import "env" "socket" (func $socket (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")))"""

FORBIDDEN_SOCKET: Final[str] = """(module
  (import "wasi_snapshot_preview1" "sock_accept" (func $a (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")))"""

FORBIDDEN_MEMORY_IMPORT: Final[str] = """(module
  (import "wasi_snapshot_preview1" "memory" (memory 1))
  (func (export "_start")))"""

TRAP: Final[str] = """(module
  (memory (export "memory") 1)
  (func (export "_start") unreachable))"""

NO_START: Final[str] = """(module (memory (export "memory") 1))"""

# Prints what the clocks and random_get return: 8 bytes realtime, 8 monotonic, 16 random.
_CLOCK = _WASI.format(name="clock_time_get", sig="(param i32 i64 i32) (result i32)")
_RANDOM = _WASI.format(name="random_get", sig="(param i32 i32) (result i32)")
_POLL = _WASI.format(name="poll_oneoff", sig="(param i32 i32 i32 i32) (result i32)")
_EXIT = _WASI.format(name="proc_exit", sig="(param i32)")
ENVIRONMENT_PROBE: Final[str] = f"""(module
  {_FD_WRITE}
  {_CLOCK}
  {_RANDOM}
  {_POLL}
  {_EXIT}
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 100)))
    (drop (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 108)))
    (drop (call $random_get (i32.const 116) (i32.const 16)))
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 32))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    ;; exit with poll_oneoff's errno: a sandbox that lets modules sleep returns 0
    (call $proc_exit (call $poll_oneoff (i32.const 200) (i32.const 300) (i32.const 1)
      (i32.const 400)))))"""


def job(
    text_or_bytes: str | bytes,
    limits: JobLimits = LIMITS,
    args: list[str] | None = None,
    inputs: dict[str, bytes] | None = None,
) -> Job:
    module = wat(text_or_bytes) if isinstance(text_or_bytes, str) else text_or_bytes
    return Job(module=module, args=args or ["job"], inputs=inputs or {}, limits=limits)


def example(name: str) -> bytes:
    return (EXAMPLES / f"{name}.wasm").read_bytes()


# Creates directories under /out named by a counter, forever: a flood of entries, no bytes.
_MKDIR = _WASI.format(name="path_create_directory", sig="(param i32 i32 i32) (result i32)")
MANY_DIRECTORIES: Final[str] = f"""(module
  {_MKDIR}
  (memory (export "memory") 1)
  (func $name (param $n i32)
    (local $i i32)
    (loop $l
      (i32.store8 (i32.add (i32.const 32) (local.get $i))
        (i32.add (i32.const 97)
          (i32.and (i32.shr_u (local.get $n) (i32.mul (local.get $i) (i32.const 4)))
            (i32.const 15))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 6)))))
  (func (export "_start")
    (local $n i32)
    (loop $l
      (call $name (local.get $n))
      (drop (call $path_create_directory (i32.const 4) (i32.const 32) (i32.const 6)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $l))))"""

# Creates /out/good, /out/bad name (a space), /out/link -> ../stdout (a host file beside
# /out; wasmtime refuses absolute targets) and exits 0.
_SYMLINK = _WASI.format(name="path_symlink", sig="(param i32 i32 i32 i32 i32) (result i32)")
ODD_OUTPUTS: Final[str] = f"""(module
  {_PATH_OPEN}
  {_SYMLINK}
  (memory (export "memory") 1)
  (data (i32.const 32) "good")
  (data (i32.const 48) "bad name")
  (data (i32.const 64) "../stdout")
  (data (i32.const 80) "link")
  (func (export "_start")
    (drop (call $path_open (i32.const 4) (i32.const 0) (i32.const 32) (i32.const 4)
      (i32.const 1) (i64.const 0x3fffffff) (i64.const 0x3fffffff) (i32.const 0) (i32.const 16)))
    (drop (call $path_open (i32.const 4) (i32.const 0) (i32.const 48) (i32.const 8)
      (i32.const 1) (i64.const 0x3fffffff) (i64.const 0x3fffffff) (i32.const 0) (i32.const 16)))
    (drop (call $path_symlink (i32.const 64) (i32.const 9) (i32.const 4) (i32.const 80)
      (i32.const 4)))))"""
