"""Fixtures of the agent tests: a device key, a config, a scripted oracle.

The scripted oracle is an ``httpx.MockTransport`` handler that really decodes
and verifies the posted reports (core.envelope) and answers as told, so the
sender's retry logic is exercised over httpx's transport interface without a
server; the real ingest service is exercised in test_ingest_http.py.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec
import pytest

from depinkit.agent.clock import ManualClock
from depinkit.agent.config import AgentConfig, parse_config
from depinkit.agent.roles import Role
from depinkit.agent.runtime import AgentRuntime, build_runtime
from depinkit.core.envelope import ReportDomain, decode_report, verify_report
from depinkit.core.keys import Account

REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"  # anvil's first deployment address
CHAIN_ID = 31337
DOMAIN = ReportDomain(chain_id=CHAIN_ID, registry=REGISTRY)

# One answer of the scripted oracle: "ok" (verify and store), "down" (connection
# refused), an int (that HTTP status with no results), or a callable deciding
# per report: it gets the report id and returns None (accept) or an error code.
Answer = str | int | Callable[[bytes], str | None]


@dataclass
class ScriptedOracle:
    """An oracle that stores verified reports and answers from a script."""

    name: str
    script: list[Answer] = field(default_factory=list)  # consumed one per request
    default: Answer = "ok"
    stored: dict[bytes, bytes] = field(default_factory=dict)
    requests: list[int] = field(default_factory=list)  # batch size of each request
    max_batch: int = 1000  # larger batches get 413 too_large, as the ingest does

    def handle(self, request: httpx.Request) -> httpx.Response:
        answer = self.script.pop(0) if self.script else self.default
        if answer == "down":
            raise httpx.ConnectError("connection refused", request=request)
        batch = msgspec.msgpack.decode(request.content, type=dict[str, list[msgspec.Raw]])[
            "reports"
        ]
        self.requests.append(len(batch))
        if len(batch) > self.max_batch:
            return httpx.Response(413, json={"code": "too_large"})
        if isinstance(answer, int):
            return httpx.Response(answer, json={"code": f"status_{answer}"})
        results = []
        for raw in batch:
            report = decode_report(bytes(raw))
            rid = verify_report(DOMAIN, report)
            code = answer(rid) if callable(answer) else None
            if code is not None:
                results.append({"id": "0x" + rid.hex(), "status": "rejected", "code": code})
            elif rid in self.stored:
                results.append({"id": "0x" + rid.hex(), "status": "duplicate"})
            else:
                self.stored[rid] = bytes(raw)
                results.append({"id": "0x" + rid.hex(), "status": "accepted"})
        return httpx.Response(200, json={"results": results})


class OracleRouter:
    """Routes requests to scripted oracles by port (http://127.0.0.1:<port>)."""

    def __init__(self, oracles: list[ScriptedOracle]) -> None:
        self.by_port = {9000 + i: oracle for i, oracle in enumerate(oracles)}

    def urls(self) -> dict[str, str]:
        return {o.name: f"http://127.0.0.1:{port}" for port, o in self.by_port.items()}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.by_port[request.url.port or 0].handle(request)


@pytest.fixture(scope="session")
def account() -> Account:
    return Account.from_key(bytes(range(1, 33)))


def make_config(
    data_dir: Path,
    oracle_urls: dict[str, str],
    *,
    sender: dict[str, object] | None = None,
    roles: list[dict[str, object]] | None = None,
) -> AgentConfig:
    raw = {
        "data_dir": str(data_dir),
        "domain": {"chain_id": CHAIN_ID, "registry": REGISTRY},
        "oracles": [{"name": n, "url": u} for n, u in oracle_urls.items()],
        "sender": {"batch_size": 100, "initial_backoff_ms": 1000, "max_backoff_ms": 16000}
        | (sender or {}),
        "metrics": {"textfile": ""},
        "roles": roles or [],
    }
    return parse_config(raw, base_dir=data_dir, env={})


@dataclass
class Harness:
    """A runtime wired to scripted oracles and a manual clock."""

    runtime: AgentRuntime
    clock: ManualClock
    oracles: dict[str, ScriptedOracle]


@pytest.fixture
def harness_factory(tmp_path: Path, account: Account) -> Iterator[Callable[..., Harness]]:
    made: list[AgentRuntime] = []

    def build(
        names: tuple[str, ...] = ("a", "b"),
        *,
        roles: list[Role] | None = None,
        sender: dict[str, object] | None = None,
        clock: ManualClock | None = None,
        oracles: list[ScriptedOracle] | None = None,
        seed: int = 7,
    ) -> Harness:
        oracles = oracles or [ScriptedOracle(name) for name in names]
        router = OracleRouter(oracles)
        config = make_config(tmp_path / "agent", router.urls(), sender=sender)
        clock = clock or ManualClock()
        runtime = build_runtime(
            config,
            account,
            roles=roles or [],
            client=httpx.Client(transport=httpx.MockTransport(router)),
            clock=clock,
            rng=random.Random(seed),
        )
        made.append(runtime)
        return Harness(runtime, clock, {o.name: o for o in oracles})

    yield build
    for runtime in made:
        runtime.close()
