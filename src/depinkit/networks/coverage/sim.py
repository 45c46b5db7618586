"""A simulated city for the coverage network: honest hotspots and three attacks.

Pure and seeded (``random.Random(seed)``, no clock, no I/O): the same configuration gives the
same reports, verdicts and figures on every machine. Hotspots sit on res-11 H3 cells placed by
integer IJ offsets; radio propagation is log-distance path loss (never better than free
space) with log-normal shadowing per link. Reports are real signed envelopes, run through the
real :class:`~depinkit.networks.coverage.module.CoverageModule` epoch after epoch, with the
module's ``next_prior`` carried between epochs as the pipeline does.

Attacks (docs/networks/coverage.md, "Simulated city"):

* **false location**: hotspots really in the city assert a cell 8-30 km away (a lonely hex
  pays more under HIP-17) and otherwise behave honestly: they beacon and witness on air.
* **collusion ring**: hotspots asserting cells in the city that are not on air there; each
  fabricates witnesses of the others' beacons with signal strengths plausible for the
  asserted distances.
* **beacon relay**: hotspots in satellite towns 40-70 km away that receive city beacons over
  the internet from an accomplice and report them as heard, with plausible weak signals.

``python -m depinkit.networks.coverage.sim`` prints the figures as JSON.
"""

from __future__ import annotations

import json
import math
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import h3.api.basic_int as h3

from depinkit.core.envelope import ReportDomain, report_id, sign_report
from depinkit.core.keys import Account, keccak256
from depinkit.networks.context import DeviceView, EpochContext
from depinkit.networks.coverage import parameters as P
from depinkit.networks.coverage.beacon import beacon_payload, beacon_window
from depinkit.networks.coverage.cheaters import DETECTOR_REASONS
from depinkit.networks.coverage.geo import RES11_SPACING_MM
from depinkit.networks.coverage.module import NAME, CoverageModule
from depinkit.networks.coverage.schemas import BEACON, WITNESS, Beacon, Witness
from depinkit.networks.coverage.score import COVERAGE
from depinkit.networks.coverage.verify import DENYLISTED
from depinkit.networks.module import ReceivedReport, run_module

ORIGIN: Final[int] = 626558102896488447  # res-11 cell in Paris: the city centre
DOMAIN: Final[ReportDomain] = ReportDomain(
    chain_id=31337, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3"
)
EPOCH_MS: Final[int] = 86_400_000  # one day, as Helium's reward epochs
FREQUENCY_HZ: Final[int] = 868_100_000  # EU868 channel 1
HONEST: Final[str] = "honest"
SPOOFER: Final[str] = "spoofer"
RING: Final[str] = "ring"
RELAYER: Final[str] = "relayer"
TOWNSFOLK: Final[str] = "town"  # honest hotspots of the satellite towns
_SPACING_M: Final[float] = RES11_SPACING_MM / 1000


@dataclass(frozen=True)
class CityConfig:
    """Everything the simulation depends on."""

    seed: int = 1
    honest: int = 300  # honest hotspots in the city
    city_radius_m: int = 9_000
    spoofers: int = 8
    spoof_min_m: int = 8_000
    spoof_max_m: int = 30_000
    ring_size: int = 8
    ring_radius_m: int = 2_500
    relayers: int = 4  # one per satellite town
    town_hotspots: int = 3  # honest hotspots per satellite town
    relayed_per_epoch: int = 15  # city beacons each relayer claims to hear
    epochs: int = 3
    beacons_per_epoch: int = 1
    tx_power_dbm: int = 14
    gain_dbi: int = 2
    sensitivity_dbm: int = -120
    path_loss_exponent: float = 4.0  # urban: a few km of range at ground level
    reference_m: float = 100.0  # free space up to here, then the exponent
    shadowing_db: float = 6.0
    detection: bool = True  # False: thresholds out of reach (the counterfactual)
    parameters: dict[str, int] = field(default_factory=dict)


@dataclass
class Hotspot:
    account: Account
    role: str
    true_ij: tuple[int, int]  # where it really is (IJ offset from ORIGIN)
    asserted_ij: tuple[int, int]  # where it says it is
    on_air: bool  # transmits and receives in the city's radio medium


@dataclass
class EpochFigures:
    epoch: int
    reports: int
    flagged: dict[str, str]  # address -> reason (detected or denied this epoch)
    points: dict[str, int]  # coverage points


@dataclass
class SimResult:
    config: CityConfig
    hotspots: list[Hotspot]
    epochs: list[EpochFigures]

    def roles(self) -> dict[str, str]:
        return {h.account.address: h.role for h in self.hotspots}

    def figures(self) -> dict[str, Any]:
        """Precision, recall, cheaters' loss and share of rewards, per role and overall."""
        roles = self.roles()
        cheaters = {a for a, r in roles.items() if r in (SPOOFER, RING, RELAYER)}
        honest = set(roles) - cheaters
        flagged = set().union(*(e.flagged for e in self.epochs))
        zeroed = sum(1 for e in self.epochs for a in cheaters if e.points.get(a, 0) == 0)
        total = sum(sum(e.points.values()) for e in self.epochs)
        to_cheaters = sum(e.points.get(a, 0) for e in self.epochs for a in cheaters)
        per_epoch_share = [
            _ratio(sum(e.points.get(a, 0) for a in cheaters), sum(e.points.values()))
            for e in self.epochs
        ]
        by_role = {}
        for role in (SPOOFER, RING, RELAYER):
            members = {a for a, r in roles.items() if r == role}
            by_role[role] = {
                "count": len(members),
                "detected": len(members & flagged),
                "reasons": sorted(
                    {e.flagged[a] for e in self.epochs for a in members & set(e.flagged)}
                ),
            }
        honest_flagged = sorted(honest & flagged)
        return {
            "hotspots": len(roles),
            "honest": len(honest),
            "cheaters": len(cheaters),
            "epochs": len(self.epochs),
            "reports": sum(e.reports for e in self.epochs),
            "recall": _ratio(len(cheaters & flagged), len(cheaters)),
            "precision": _ratio(len(cheaters & flagged), len(flagged)),
            "cheater_epochs_zeroed": _ratio(zeroed, len(cheaters) * len(self.epochs)),
            "honest_affected": _ratio(len(honest_flagged), len(honest)),
            "honest_flagged": [(a, roles[a]) for a in honest_flagged],
            "cheater_share_of_rewards": _ratio(to_cheaters, total),
            "cheater_share_per_epoch": per_epoch_share,
            "by_role": by_role,
        }


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def _polar_ij(rng: random.Random, min_m: float, max_m: float) -> tuple[int, int]:
    """A random IJ offset between min_m and max_m from (0, 0), uniform over the annulus."""
    r = math.sqrt(rng.uniform(min_m**2, max_m**2)) / _SPACING_M
    a = rng.uniform(0, 2 * math.pi)
    x, y = r * math.cos(a), r * math.sin(a)
    # IJ axes are 120 degrees apart: x = i - j/2, y = j * sqrt(3)/2
    j = y * 2 / math.sqrt(3)
    return round(x + j / 2), round(j)


def _add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return a[0] + b[0], a[1] + b[1]


def _metres(a: tuple[int, int], b: tuple[int, int]) -> float:
    i, j = a[0] - b[0], a[1] - b[1]
    return math.sqrt(max(i * i - i * j + j * j, 0)) * _SPACING_M


def build_city(config: CityConfig) -> list[Hotspot]:
    rng = random.Random(config.seed)
    accounts = (
        Account.from_key(
            keccak256(b"coverage-sim" + config.seed.to_bytes(8, "big") + i.to_bytes(4, "big"))
        )
        for i in range(10**6)
    )
    spots: list[Hotspot] = []
    for _ in range(config.honest):
        at = _polar_ij(rng, 0, config.city_radius_m)
        spots.append(Hotspot(next(accounts), HONEST, at, at, True))
    for _ in range(config.spoofers):
        at = _polar_ij(rng, 0, config.city_radius_m)
        lie = _add(at, _polar_ij(rng, config.spoof_min_m, config.spoof_max_m))
        spots.append(Hotspot(next(accounts), SPOOFER, at, lie, True))
    if config.ring_size:
        centre = _polar_ij(rng, 0, config.city_radius_m - config.ring_radius_m)
        garage = _polar_ij(rng, 500_000, 600_000)  # really far away, off the city's air
        for _ in range(config.ring_size):
            at = _add(centre, _polar_ij(rng, 0, config.ring_radius_m))
            spots.append(Hotspot(next(accounts), RING, garage, at, False))
    for _ in range(config.relayers):
        town = _polar_ij(rng, 40_000, 70_000)
        for _ in range(config.town_hotspots):
            at = _add(town, _polar_ij(rng, 0, 1_500))
            spots.append(Hotspot(next(accounts), TOWNSFOLK, at, at, True))
        at = _add(town, _polar_ij(rng, 0, 1_500))
        spots.append(Hotspot(next(accounts), RELAYER, at, at, True))
    return spots


class _Radio:
    """Log-distance path loss, never better than free space, shadowing fixed per link."""

    def __init__(self, config: CityConfig) -> None:
        self.config = config

    def loss_db(self, d: float, link_seed: int) -> float:
        c = self.config
        d = max(d, 1.0)
        fspl = 20 * math.log10(d) + 20 * math.log10(FREQUENCY_HZ) - 147.55
        extra = 10 * (c.path_loss_exponent - 2) * math.log10(max(d / c.reference_m, 1.0))
        shadow = random.Random(link_seed).gauss(0, c.shadowing_db)
        return max(fspl, fspl + extra + shadow)

    def rssi_dbm10(self, d: float, link_seed: int) -> int:
        c = self.config
        return round(10 * (c.tx_power_dbm + 2 * c.gain_dbi - self.loss_db(d, link_seed)))

    def heard(self, rssi_dbm10: int) -> bool:
        return rssi_dbm10 >= 10 * self.config.sensitivity_dbm


def _cell(ij: tuple[int, int]) -> int:
    oi, oj = h3.cell_to_local_ij(ORIGIN, ORIGIN)
    return h3.local_ij_to_cell(ORIGIN, oi + ij[0], oj + ij[1])


def _parameters(config: CityConfig) -> dict[str, int]:
    values = CoverageModule().defaults()
    values[P.BEACON_INTERVAL_S] = EPOCH_MS // 1000 // config.beacons_per_epoch
    if not config.detection:
        for name in (P.SPOOF_MIN_LINKS, P.GEOMETRY_MIN_LINKS, P.RING_MIN_MISSED, P.RELAY_MIN_COUNT):
            values[name] = 1_000
    values.update(config.parameters)
    return values


def _pair_seed(seed: int, a: str, b: str) -> int:
    low, high = sorted((a, b))
    return int.from_bytes(keccak256(f"{seed}/{low}/{high}".encode())[:8], "big")


def _report(
    account: Account, kind: str, body: Beacon | Witness, at_ms: int, epoch: int, seq: int
) -> ReceivedReport:
    report = sign_report(
        account,
        DOMAIN,
        network=NAME,
        kind=kind,
        seq=seq,
        timestamp_ms=at_ms,
        epoch=epoch,
        body=body,
    )
    return ReceivedReport(id=report_id(DOMAIN, report), report=report)


def epoch_reports(
    config: CityConfig,
    spots: Sequence[Hotspot],
    epoch: int,
    start_ms: int,
    entropy: bytes,
    parameters: dict[str, int],
) -> list[ReceivedReport]:
    """One epoch of signed beacon and witness reports from every hotspot."""
    rng = random.Random(f"{config.seed}/{epoch}")
    radio = _Radio(config)
    interval, window = parameters[P.BEACON_INTERVAL_S], parameters[P.ENTROPY_WINDOW_S]
    reports: list[ReceivedReport] = []
    city_beacons: list[tuple[Hotspot, int, Beacon]] = []
    seq = 0
    for spot in spots:
        for slot in range(config.beacons_per_epoch):
            opens, _ = beacon_window(
                entropy,
                spot.account.address,
                slot,
                start_ms=start_ms,
                end_ms=start_ms + EPOCH_MS,
                interval_s=interval,
                window_s=window,
            )
            body = Beacon(
                slot=slot,
                payload=beacon_payload(entropy, spot.account.address, slot),
                frequency_hz=FREQUENCY_HZ,
                tx_power_dbm=config.tx_power_dbm,
                transmit_ms=opens + rng.randrange(0, window * 1000 // 2),
            )
            seq += 1
            reports.append(_report(spot.account, BEACON, body, body.transmit_ms + 50, epoch, seq))
            if spot.role in (HONEST, SPOOFER):
                city_beacons.append((spot, slot, body))
            for other in spots:
                if other is spot:
                    continue
                if spot.on_air and other.on_air:  # over the air, from true positions
                    d = _metres(spot.true_ij, other.true_ij)
                    seed = _pair_seed(config.seed, spot.account.address, other.account.address)
                    rssi = radio.rssi_dbm10(d, seed)
                    if not radio.heard(rssi):
                        continue
                    lag = rng.randrange(20, 400)
                elif spot.role == RING and other.role == RING:  # fabricated, plausible
                    d = _metres(spot.asserted_ij, other.asserted_ij)
                    rssi = radio.rssi_dbm10(d, rng.getrandbits(64))
                    lag = rng.randrange(20, 400)
                else:
                    continue
                heard = Witness(
                    beaconer=spot.account.address,
                    slot=slot,
                    payload=body.payload,
                    rssi_dbm10=max(rssi, -2000),
                    snr_db10=max(-200, min(150, rssi + 1200)),
                    frequency_hz=FREQUENCY_HZ,
                    received_ms=body.transmit_ms + lag,
                )
                seq += 1
                reports.append(
                    _report(other.account, WITNESS, heard, heard.received_ms + 100, epoch, seq)
                )
    for relayer in (s for s in spots if s.role == RELAYER):
        for spot, slot, body in rng.sample(
            city_beacons, min(len(city_beacons), config.relayed_per_epoch)
        ):
            d = _metres(spot.asserted_ij, relayer.asserted_ij)
            rssi = radio.rssi_dbm10(d, rng.getrandbits(64))  # a plausible reading for the lie
            heard = Witness(
                beaconer=spot.account.address,
                slot=slot,
                payload=body.payload,
                rssi_dbm10=max(rssi, 10 * config.sensitivity_dbm),
                snr_db10=-150,
                frequency_hz=FREQUENCY_HZ,
                received_ms=body.transmit_ms + rng.randrange(300, 2_500),
            )
            seq += 1
            reports.append(
                _report(relayer.account, WITNESS, heard, heard.received_ms + 100, epoch, seq)
            )
    return reports


def run_city(config: CityConfig = CityConfig()) -> SimResult:
    """Build the city and run ``config.epochs`` epochs through verify, score and next_prior."""
    spots = build_city(config)
    module = CoverageModule()
    parameters = _parameters(config)
    devices = {
        s.account.address: DeviceView(
            owner=Account.from_key(keccak256(s.account.private_key)).address,
            network=NAME,
            h3_cell=_cell(s.asserted_ij),
        )
        for s in spots
    }
    prior: dict[str, Any] = {}
    figures = []
    start = 1_700_000_000_000
    for epoch in range(1, config.epochs + 1):
        start_ms = start + (epoch - 1) * EPOCH_MS
        entropy = keccak256(f"sim {config.seed} epoch {epoch}".encode())
        ctx = EpochContext(
            network=NAME,
            epoch=epoch,
            start_ms=start_ms,
            end_ms=start_ms + EPOCH_MS,
            entropy=entropy,
            parameters=parameters,
            devices=devices,
            prior=prior,
        )
        reports = epoch_reports(config, spots, epoch, start_ms, entropy, parameters)
        verdicts, scores = run_module(module, ctx, reports)
        flagged = {
            v.device: v.reason
            for v in verdicts
            if v.reason in DETECTOR_REASONS or v.reason == DENYLISTED
        }
        figures.append(EpochFigures(epoch, len(reports), flagged, dict(scores[COVERAGE])))
        prior = module.next_prior(ctx, reports, verdicts)
    return SimResult(config, spots, figures)


def main(argv: Sequence[str] = ()) -> None:
    """Print the figures of the default city, with and without detection, as JSON."""
    seed = int(argv[0]) if argv else 1
    detected = run_city(CityConfig(seed=seed)).figures()
    undetected = run_city(CityConfig(seed=seed, detection=False)).figures()
    out = {
        "with_detection": detected,
        "without_detection": {k: undetected[k] for k in ("cheater_share_of_rewards", "recall")},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
