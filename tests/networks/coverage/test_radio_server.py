"""The medium as a real process on loopback, reached through MediumRadio and MediumOperator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from radio_processes import medium_process

from depinkit.networks.coverage.radio import Frame, RadioError, ReceivedFrame, UnknownRadio
from depinkit.networks.coverage.radio.medium import Medium, RadioSpec
from depinkit.networks.coverage.radio.server import MediumOperator, MediumRadio

SEED = 7
EU868 = 868_100_000
PLACES = {
    "alice": RadioSpec(lat=38.7223, lng=-9.1393),
    "bob": RadioSpec(lat=38.7500, lng=-9.1000),
    "carol": RadioSpec(lat=38.6900, lng=-9.2000, channels_hz=[EU868]),
    "dave": RadioSpec(lat=38.7000, lng=-9.1500, channels_hz=[904_600_000]),
}


@pytest.fixture(scope="module")
def medium_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with medium_process(tmp_path_factory.mktemp("medium"), seed=SEED) as url:
        yield url


def test_transmissions_reach_the_radios_the_model_says(medium_url: str) -> None:
    operator = MediumOperator(medium_url)
    radios = {rid: operator.register(rid, place) for rid, place in PLACES.items()}
    assert operator.radios() == PLACES, "the operator sees true positions"
    frame = Frame(payload=b"beacon-bytes", frequency_hz=EU868, tx_power_dbm=14)
    sent_ms = radios["alice"].transmit(frame)

    model = Medium(seed=SEED)  # the same physics, in process, same seed and call sequence
    for rid, place in PLACES.items():
        model.register(rid, place)
    expected = {d.receiver: d for d in model.transmit("alice", frame, now_ms=sent_ms).deliveries}
    assert sorted(expected) == ["bob", "carol"], "dave listens on another channel"

    for rid in ("bob", "carol"):
        (heard,) = radios[rid].receive(0)
        assert heard.payload == frame.payload and heard.frequency_hz == EU868
        assert (heard.rssi, heard.snr) == (expected[rid].frame.rssi, expected[rid].frame.snr)
        assert -1300 < heard.rssi < -500, "a plausible RSSI at a few km, tenths of dBm"
        assert heard.received_ms == expected[rid].frame.received_ms
        assert radios[rid].receive(heard.received_ms + 1) == []
    assert radios["dave"].receive(0) == [] and radios["alice"].receive(0) == []

    (log,) = operator.transmissions()
    assert log.sender == "alice" and {d.receiver for d in log.deliveries} == {"bob", "carol"}
    assert operator.transmissions(since_seq=log.seq) == []
    assert operator.health().transmissions == log.seq


def test_errors_come_back_as_radio_errors(medium_url: str) -> None:
    operator = MediumOperator(medium_url)
    ghost = MediumRadio(medium_url, "ghost")
    with pytest.raises(UnknownRadio, match="404"):
        ghost.receive(0)
    with pytest.raises(UnknownRadio):
        ghost.transmit(Frame(b"x", EU868, 14))
    radio = operator.register("erin", RadioSpec(lat=1.0, lng=1.0))
    with pytest.raises(RadioError, match="payload"):
        radio.transmit(Frame(b"x" * 300, EU868, 14))
    with pytest.raises(RadioError, match="H3"):
        operator.register("frank", RadioSpec(cell="zz"))
    too_big = httpx.put(f"{medium_url}/v1/radios/frank", content=b"{" + b" " * 20_000 + b"}")
    assert too_big.status_code == 400 and "body over" in too_big.text
    garbage = httpx.post(f"{medium_url}/v1/radios/erin/transmit", content=b"[1, 2")
    assert garbage.status_code == 400 and "bad Frame" in garbage.text
    relayed = ReceivedFrame(b"heard elsewhere", EU868, rssi=-1100, snr=-20, received_ms=5)
    operator.inject("erin", relayed)
    assert radio.receive(0) == [relayed], "the operator can stage a relay attack"
    with pytest.raises(UnknownRadio):
        operator.inject("ghost", relayed)
    operator.unregister("erin")
    with pytest.raises(UnknownRadio):
        radio.receive(0)


def test_unreachable_medium_is_a_radio_error() -> None:
    with pytest.raises(RadioError, match="unreachable"):
        MediumRadio("http://127.0.0.1:9", "a", timeout_s=1.0).receive(0)


def test_process_stops_cleanly(tmp_path: Path) -> None:
    with medium_process(tmp_path, seed=1, extra=("--path-loss-exponent", "2.7")) as url:
        assert MediumOperator(url).health().seed == 1
    with pytest.raises(RadioError):
        MediumOperator(url, timeout_s=1.0).health()
