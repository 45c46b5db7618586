"""The simulated radio medium's physics, as a pure model (no process)."""

from __future__ import annotations

import math

import h3
import pytest

from depinkit.networks.coverage.radio import Frame, RadioError, UnknownRadio
from depinkit.networks.coverage.radio.medium import (
    Medium,
    MediumConfig,
    RadioSpec,
    airtime_ms,
    distance_m,
    free_space_path_loss_db,
    path_loss_db,
)

LISBON = (38.7223, -9.1393)
EU868 = 868_100_000  # Hz
FRAME = Frame(payload=b"\x01" * 44, frequency_hz=EU868, tx_power_dbm=14)
VERIFIER_MARGIN_DB = 20.0  # coverage parameter fspl_margin_db10 = 200


def north_of(km: float, origin: tuple[float, float] = LISBON) -> tuple[float, float]:
    return origin[0] + km / 111.195, origin[1]  # 1 degree of latitude ~ 111.195 km


def spec(position: tuple[float, float], **kwargs: object) -> RadioSpec:
    return RadioSpec(lat=position[0], lng=position[1], **kwargs)  # type: ignore[arg-type]


def test_free_space_path_loss_reference_values() -> None:
    # 1 km at 868 MHz: 20 log10(1000) + 20 log10(868e6) - 147.55 = 91.22 dB
    assert free_space_path_loss_db(1_000, 868_000_000) == pytest.approx(91.22, abs=0.01)
    # inverse square law: twice the distance, 6.02 dB more
    assert free_space_path_loss_db(2_000, EU868) - free_space_path_loss_db(
        1_000, EU868
    ) == pytest.approx(6.02, abs=0.01)
    assert path_loss_db(5_000, EU868, 2.0) == pytest.approx(free_space_path_loss_db(5_000, EU868))
    assert path_loss_db(1_000, EU868, 3.0) == pytest.approx(
        free_space_path_loss_db(1, EU868) + 90.0
    )
    assert free_space_path_loss_db(0.0, EU868) == free_space_path_loss_db(1.0, EU868)


def test_airtime_matches_the_semtech_calculator() -> None:
    # TTN / Semtech LoRa calculator: 20 B at SF7BW125 56.6 ms, 51 B at SF12BW125 2465.8 ms
    assert airtime_ms(20, MediumConfig(spreading_factor=7)) == 57
    assert airtime_ms(51, MediumConfig(spreading_factor=12)) == 2466
    assert airtime_ms(44, MediumConfig()) == 288  # a beacon frame at SF9


def test_distance_is_haversine() -> None:
    assert distance_m(LISBON, north_of(10)) == pytest.approx(10_000, rel=1e-3)
    assert distance_m((0.0, 0.0), (0.0, 180.0)) == pytest.approx(math.pi * 6_371_008.8)


def test_delivery_near_and_not_far() -> None:
    medium = Medium(seed=1)
    medium.register("a", spec(LISBON))
    medium.register("b", spec(north_of(2)))
    medium.register("far", spec(north_of(2_000)))  # beyond SF9 range even in free space
    sent = medium.transmit("a", FRAME, now_ms=1_000_000)
    assert [d.receiver for d in sent.deliveries] == ["b"], "only b hears; a not itself"
    heard = medium.receive("b", 0)
    assert len(heard) == 1 and heard[0].payload == FRAME.payload
    frame = heard[0]
    expected_dbm = 14 + 2 + 2 - free_space_path_loss_db(2_000, EU868)  # -79.2 dBm
    assert abs(frame.rssi / 10 - expected_dbm) <= 3 * 4 + 3 * 1 + 0.1, "within clipped shadowing"
    noise = MediumConfig().noise_floor_dbm()
    assert abs((frame.snr - frame.rssi) / 10 + noise) <= 0.11, "SNR = signal - noise floor"
    assert frame.frequency_hz == EU868
    assert frame.received_ms == 1_000_000 + sent.airtime_ms, "2 km of flight rounds to 0 ms"
    assert medium.receive("far", 0) == [] and medium.receive("a", 0) == []


def test_sensitivity_threshold_with_a_lossier_exponent() -> None:
    medium = Medium(MediumConfig(path_loss_exponent=3.5, shadowing_sigma_db=0.0,
                                 fading_sigma_db=0.0), seed=1)  # fmt: skip
    medium.register("a", spec(LISBON))
    for km in (1, 5, 10, 20, 40, 80):
        medium.register(f"r{km}", spec(north_of(km)))
    sent = medium.transmit("a", FRAME, now_ms=0)
    sensitivity = medium.config.sensitivity_dbm()
    heard = {d.receiver for d in sent.deliveries}
    for km in (1, 5, 10, 20, 40, 80):
        d = distance_m(LISBON, north_of(km))
        rx = 18 - path_loss_db(d, EU868, 3.5)
        assert (f"r{km}" in heard) == (rx >= sensitivity), km
    assert "r1" in heard and "r80" not in heard


def test_honest_links_never_beat_free_space_by_the_verifier_margin() -> None:
    medium = Medium(seed=99)
    positions = {f"h{i}": north_of(0.7 * i, (LISBON[0], LISBON[1] + 0.01 * (i % 5)))
                 for i in range(40)}  # fmt: skip
    for rid, position in positions.items():
        medium.register(rid, spec(position))
    for sender in list(positions)[:10]:
        for delivery in medium.transmit(sender, FRAME, now_ms=0).deliveries:
            free_space = FRAME.tx_power_dbm - free_space_path_loss_db(delivery.distance_m, EU868)
            assert delivery.frame.rssi / 10 <= free_space + VERIFIER_MARGIN_DB


def test_deterministic_from_the_seed_whatever_the_order() -> None:
    def run(seed: int, order: list[str]) -> list[tuple[str, int, int]]:
        medium = Medium(seed=seed)
        where = {"a": LISBON, "b": north_of(3), "c": north_of(7), "d": north_of(12)}
        for rid in order:
            medium.register(rid, spec(where[rid]))
        out = []
        for _ in range(3):
            sent = medium.transmit("a", FRAME, now_ms=5)
            out += [(d.receiver, d.frame.rssi, d.frame.snr) for d in sent.deliveries]
        return out

    first = run(3, ["a", "b", "c", "d"])
    assert first == run(3, ["d", "c", "b", "a"]), "order of registration does not matter"
    assert first != run(4, ["a", "b", "c", "d"]), "the seed does"
    assert len({rssi for _, rssi, _ in first}) > 3, "fading varies per transmission"


def test_shadowing_is_reciprocal() -> None:
    medium = Medium(MediumConfig(fading_sigma_db=0.0), seed=5)
    medium.register("a", spec(LISBON))
    medium.register("b", spec(north_of(9)))
    ab = medium.transmit("a", FRAME, now_ms=0).deliveries[0].frame.rssi
    ba = medium.transmit("b", FRAME, now_ms=0).deliveries[0].frame.rssi
    assert ab == ba


def test_channels_tx_power_limit_and_cells() -> None:
    medium = Medium(MediumConfig(shadowing_sigma_db=0.0, fading_sigma_db=0.0))
    cell = h3.latlng_to_cell(*north_of(4), 12)
    medium.register("a", RadioSpec(cell=h3.latlng_to_cell(*LISBON, 12), max_tx_power_dbm=10))
    medium.register("us", RadioSpec(cell=cell, channels_hz=[904_600_000]))
    medium.register("eu", RadioSpec(cell=cell, channels_hz=[EU868]))
    sent = medium.transmit("a", FRAME, now_ms=0)
    assert [d.receiver for d in sent.deliveries] == ["eu"], "us listens elsewhere"
    d = sent.deliveries[0]
    assert d.rx_power_dbm == pytest.approx(10 + 4 - free_space_path_loss_db(d.distance_m, EU868))
    assert medium.radios()["us"].position() == h3.cell_to_latlng(cell)


def test_receive_since_is_inclusive_and_ordered() -> None:
    medium = Medium(seed=2)
    medium.register("a", spec(LISBON))
    medium.register("b", spec(north_of(5)))
    for now in (300, 100, 200):
        medium.transmit("a", FRAME, now_ms=now)
    times = [f.received_ms for f in medium.receive("b", 0)]
    assert times == sorted(times) and len(times) == 3
    assert [f.received_ms for f in medium.receive("b", times[1])] == times[1:]
    medium.register("b", spec(north_of(6)))  # moving keeps what it heard
    assert len(medium.receive("b", 0)) == 3


def test_refusals() -> None:
    medium = Medium()
    with pytest.raises(RadioError, match="not an H3 cell"):
        medium.register("x", RadioSpec(cell="nonsense"))
    with pytest.raises(RadioError, match="not on Earth"):
        medium.register("x", RadioSpec(lat=91.0))
    with pytest.raises(RadioError, match=r"1\.\.64"):
        medium.register("", RadioSpec())
    with pytest.raises(UnknownRadio):
        medium.transmit("ghost", FRAME, now_ms=0)
    with pytest.raises(UnknownRadio):
        medium.receive("ghost", 0)
    medium.register("a", RadioSpec())
    for bad in (
        Frame(b"", EU868, 14),
        Frame(b"x" * 256, EU868, 14),
        Frame(b"x", 0, 14),
        Frame(b"x", EU868, 99),
    ):
        with pytest.raises(RadioError):
            medium.transmit("a", bad, now_ms=0)
    medium.unregister("a")
    medium.unregister("a")  # idempotent
    assert medium.radios() == {}
