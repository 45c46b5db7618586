"""In-process providers for client tests: honest, cheating, dying, blocking."""

from __future__ import annotations

import atexit
import threading
import time
from pathlib import Path
from typing import Final

import msgspec
from compute_module_kit import DOMAIN

from depinkit.core.keys import Account, keccak256
from depinkit.networks.compute.client import ProviderRefused, ProviderUnavailable
from depinkit.networks.compute.jobs import (
    CancelRequest,
    Job,
    JobLimits,
    JobRequest,
    JobResult,
    SignedResult,
    outputs_hash,
    sign_result,
    verify_cancel,
    verify_request,
)
from depinkit.networks.compute.market import Bid, Order
from depinkit.networks.compute.sandbox import Sandbox
from depinkit.networks.receipts import Receipt

EXAMPLES: Final[Path] = (
    Path(__file__).resolve().parents[3] / "src" / "depinkit" / "networks" / "compute" / "examples"
)
LIMITS: Final[JobLimits] = JobLimits(
    fuel=2_000_000_000, memory_bytes=32 * 1024 * 1024, wall_ms=30_000, output_bytes=1024 * 1024
)


_SANDBOX: list[Sandbox] = []


def sandbox() -> Sandbox:
    """One pool of wasmtime worker processes for every in-process provider of the session
    (wasmtime's runner wants the main thread; the client calls providers from threads)."""
    if not _SANDBOX:
        _SANDBOX.append(Sandbox(workers=2))
        atexit.register(_SANDBOX[0].close)
    return _SANDBOX[0]


def render_job(frame: int, width: int = 32, height: int = 24, limits: JobLimits = LIMITS) -> Job:
    module = (EXAMPLES / "render.wasm").read_bytes()
    args = ["render", str(frame), str(width), str(height), "200"]
    return Job(module=module, args=args, inputs={}, limits=limits)


def corrupt(result: JobResult) -> JobResult:
    """A wrong result, consistently hashed (what a provider faking work would send)."""
    outputs = {k: keccak256(v) for k, v in result.outputs.items()} or {"fake": b"x"}
    digest = outputs_hash(result.exit_code, result.status, outputs, result.stdout)
    return msgspec.structs.replace(result, outputs=outputs, outputs_hash=digest)


class LocalProvider:
    """A provider in the test process: wasmtime in-process, signs like the real one."""

    def __init__(
        self,
        key: int,
        *,
        price: int = 100,
        slots: int = 2,
        cheat: bool = False,
        dead: bool = False,
        gate: threading.Event | None = None,
        refuse: int = 0,
        honours_cancel: bool = False,
    ) -> None:
        self.account = Account.from_key(bytes([key]) * 32)
        self.price, self.slots, self.cheat, self.dead, self.gate = price, slots, cheat, dead, gate
        self.lock = threading.Lock()
        self.refuse = refuse  # runs to decline (busy) before accepting any
        self.jobs = 0
        self.receipts: list[Receipt] = []
        self.cancels: list[msgspec.Struct] = []  # cancel requests received
        self.honours_cancel = honours_cancel  # a cancelled gated run answers 409 cancelled
        self.stopped: set[bytes] = set()  # leases cancelled, when honoured

    def run(self, request: JobRequest) -> SignedResult:
        if self.dead:
            raise ProviderUnavailable("connection reset (provider killed mid-job)")
        verify_request(DOMAIN, request)
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                raise ProviderRefused("provider refused (503 busy)")
        if self.gate is not None:
            deadline = time.monotonic() + 30
            while True:
                opened = self.gate.wait(0.005)
                with self.lock:
                    if request.lease in self.stopped:  # as the real service: worker killed
                        raise ProviderRefused("provider refused (409 cancelled)")
                if opened or time.monotonic() > deadline:
                    break
        result = sandbox().run(request.job)
        with self.lock:
            self.jobs += 1
        if self.cheat:
            result = corrupt(result)
        return sign_result(self.account, DOMAIN, result, lease=request.lease)


class LocalTransport:
    def __init__(self, providers: dict[str, LocalProvider]) -> None:
        self.providers = providers

    def bid(self, url: str, order: Order) -> Bid | None:
        p = self.providers[url]
        return Bid(p.account.address, p.price, free_slots=p.slots, url=url)

    def run(self, url: str, request: msgspec.Struct) -> SignedResult:
        assert isinstance(request, JobRequest)
        return self.providers[url].run(request)

    def pay(self, url: str, receipt: Receipt) -> None:
        self.providers[url].receipts.append(receipt)

    def cancel(self, url: str, request: msgspec.Struct) -> None:
        assert isinstance(request, CancelRequest)
        verify_cancel(DOMAIN, request)
        provider = self.providers[url]
        with provider.lock:
            provider.cancels.append(request)
            if provider.honours_cancel:
                provider.stopped.add(request.lease)
