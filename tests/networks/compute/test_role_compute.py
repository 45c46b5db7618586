"""The compute provider role against a real provider process on 127.0.0.1: its offers and
completions are accepted by ComputeModule.verify, each completion is reported once, also
across a restart of the role.

The role reads the claims of the results the provider signed from its ``GET /v1/claims``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from compute_client_kit import render_job
from compute_module_kit import CONSUMER, DOMAIN, OWNER, PROVIDERS, START_MS, context, received

from depinkit.agent.config import RoleSettings
from depinkit.agent.errors import RoleError
from depinkit.agent.roles import RoleContext
from depinkit.core.keys import Account
from depinkit.networks import DeviceView
from depinkit.networks.compute import ComputeModule
from depinkit.networks.compute.client import ComputeClient, HttpTransport, JobOutcome
from depinkit.networks.compute.module import NAME
from depinkit.networks.compute.provider_client import ProviderClient
from depinkit.networks.compute.provider_process import ProviderProcess, free_port, start_provider
from depinkit.networks.compute.role import (
    ComputeProviderRole,
    HttpProviderSource,
    compute_role_factory,
)
from depinkit.networks.compute.schemas import COMPLETION, OFFER, Completion, Offer
from depinkit.networks.receipts import FACT_CREDITS, FACT_PAYER

DEPLOYMENT = ("--chain-id", str(DOMAIN.chain_id), "--registry", DOMAIN.registry)
PRICE = 120  # nanocredits per million fuel the provider asks
NO_VERIFY = {"verify_below_tier": 0, "verify_ppm": 0}


@pytest.fixture(scope="module")
def provider() -> Iterator[ProviderProcess]:
    started = start_provider(*DEPLOYMENT, "--price-per-mfuel", str(PRICE), account=PROVIDERS[0])
    try:
        yield started
    finally:
        started.stop()


def run_and_pay(provider: ProviderProcess, frame: int) -> JobOutcome:
    """A job through the consumer client, which hands the provider its receipt."""
    transport = HttpTransport(DOMAIN)
    with ComputeClient(
        CONSUMER,
        DOMAIN,
        [provider.url],
        credits=10**10,
        transport=transport,
        parameters=NO_VERIFY,
    ) as client:
        outcome = client.run(render_job(frame), max_price_per_mfuel=1_000)
    transport.close()
    with ProviderClient(provider.url, DOMAIN) as service:
        held = service.receipts()
    for run in outcome.runs:
        assert run.receipt is not None and run.receipt in held
    return outcome


def ctx(tmp: Path, device: str, now_ms: int = START_MS + 1_000) -> RoleContext:
    return RoleContext(
        device=device,
        now_ms=now_ms,
        epoch=3,
        started_ms=START_MS,
        data_dir=tmp,
        rng=random.Random(0),
    )


def verify(reports: list[tuple[str, msgspec.Struct]], account: Account):  # type: ignore[no-untyped-def]
    device_map = {account.address: DeviceView(owner=OWNER, network=NAME)}
    signed = [
        received(account, kind, body, seq=i, offset_ms=1_000 + i)
        for i, (kind, body) in enumerate(reports)
    ]
    return ComputeModule().verify(context(device_map=device_map), signed)


def test_offer_and_completions_are_accepted_once(provider: ProviderProcess, tmp_path: Path) -> None:
    account = PROVIDERS[0]
    role = ComputeProviderRole(HttpProviderSource(provider.url), region="eu")
    first = role.produce(ctx(tmp_path, account.address))
    assert [d.kind for d in first] == [OFFER]  # nothing paid yet
    offer = first[0].body
    assert isinstance(offer, Offer)
    assert (offer.slots, offer.price_per_mfuel, offer.region) == (1, PRICE, "eu")

    outcome = run_and_pay(provider, frame=7)
    drafts = role.produce(ctx(tmp_path, account.address, START_MS + 2_000))
    assert [d.kind for d in drafts] == [COMPLETION]  # the offer waits for its interval
    completion = drafts[0].body
    assert isinstance(completion, Completion)
    assert completion.claim == outcome.runs[0].claim
    assert completion.receipt == outcome.runs[0].receipt

    verdicts = verify([(OFFER, offer), (COMPLETION, completion)], account)
    assert all(v.accepted for v in verdicts), verdicts
    paid = next(v for v in verdicts if FACT_CREDITS in v.facts)
    assert paid.facts[FACT_CREDITS] == outcome.paid > 0
    assert paid.facts[FACT_PAYER] == int(CONSUMER.address, 16)

    assert role.produce(ctx(tmp_path, account.address, START_MS + 3_000)) == []
    restarted = ComputeProviderRole(HttpProviderSource(provider.url), region="eu")
    assert restarted.produce(ctx(tmp_path, account.address, START_MS + 4_000)) == []

    second = run_and_pay(provider, frame=8)
    drafts = restarted.produce(ctx(tmp_path, account.address, START_MS + 5_000))
    assert [d.kind for d in drafts] == [COMPLETION]
    body = drafts[0].body
    assert isinstance(body, Completion) and body.claim == second.runs[0].claim

    later = START_MS + 1_000 + 1_200_000  # the offer interval has passed
    assert [d.kind for d in restarted.produce(ctx(tmp_path, account.address, later))] == [OFFER]


def test_role_stays_quiet_when_the_service_is_down_or_not_its_own(
    provider: ProviderProcess, tmp_path: Path
) -> None:
    down = ComputeProviderRole(HttpProviderSource(f"http://127.0.0.1:{free_port()}"))
    assert down.produce(ctx(tmp_path, PROVIDERS[0].address)) == []
    other = ComputeProviderRole(HttpProviderSource(provider.url))
    assert other.produce(ctx(tmp_path, PROVIDERS[1].address)) == []  # signs as another device


def test_factory_options(provider: ProviderProcess, tmp_path: Path) -> None:
    build = compute_role_factory()
    settings = RoleSettings(
        name="compute",
        interval_s=30.0,
        options={
            "provider_url": provider.url,
            "region": "us",
            "mfuel_per_s": 900,
            "capabilities": ["wasi-p1", "simd"],
            "offer_interval_s": 0,
        },
    )
    role = build(settings)
    assert (role.name, role.interval_s) == ("compute", 30.0)
    drafts = role.produce(ctx(tmp_path, PROVIDERS[0].address))
    offers = [d.body for d in drafts if d.kind == OFFER]
    assert len(offers) == 1 and isinstance(offers[0], Offer)
    assert (offers[0].region, offers[0].mfuel_per_s) == ("us", 900)
    assert offers[0].capabilities == ("wasi-p1", "simd")
    with pytest.raises(RoleError, match="unknown options"):
        build(RoleSettings(name="compute", options={"provider": "x"}))
    with pytest.raises(RoleError, match="must be int"):
        build(RoleSettings(name="compute", options={"mfuel_per_s": "fast"}))
    with pytest.raises(RoleError, match="list of strings"):
        build(RoleSettings(name="compute", options={"capabilities": "wasi-p1"}))


def test_default_port_is_the_services() -> None:
    from depinkit.networks.compute import provider as service
    from depinkit.networks.compute import role

    assert role.DEFAULT_PORT == service.DEFAULT_PORT
