"""`depinkit coverage boost` / `boosts` against a real anvil with the contracts deployed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h3.api.basic_int as h3
import pytest
from eth_account import Account as EthAccount
from typer.testing import CliRunner

from depinkit.chain import (
    TOKEN,
    Anvil,
    Chain,
    Depin,
    DeployConfig,
    NetworkConfig,
    boost_cost,
    deploy,
    dev_account,
)
from depinkit.cli import app
from depinkit.cli.boost import parse_cell
from depinkit.networks.coverage import CoverageModule
from depinkit.networks.coverage import parameters as P

pytestmark = pytest.mark.anvil

HEX = h3.latlng_to_cell(52.52, 13.405, 7)  # Berlin, a res-7 hex


@dataclass
class Setup:
    url: str
    depin: Depin
    manifest: Path
    key: Path  # the buyer's hex key
    pauper: Path  # a key with gas and no DPK


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("boost-cli")
    with Anvil() as node:
        chain = Chain.connect(node.url)
        parameters = {spec.name: spec.default for spec in CoverageModule.parameters}
        config = DeployConfig(
            networks=(
                NetworkConfig(
                    name="coverage", splits={"coverage": 10_000, "data": 0}, parameters=parameters
                ),
            )
        )
        deployer = dev_account()
        depin = Depin(chain, deploy(chain, deployer, config))
        manifest = depin.deployment.save(root / "deployment.json")
        buyer, pauper = EthAccount.create(), EthAccount.create()
        chain.fund([buyer.address, pauper.address])
        depin.token.transfer(deployer, buyer.address, 1_000 * TOKEN)
        key, broke = root / "buyer.hex", root / "pauper.hex"
        key.write_text(buyer.key.hex() + "\n")
        broke.write_text(pauper.key.hex() + "\n")
        yield Setup(node.url, depin, manifest, key, broke)


def _run(setup: Setup, *args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    base = ["--rpc", setup.url, "--deployment", str(setup.manifest)]
    result = runner.invoke(app, ["coverage", *args[:1], *base, *args[1:]])
    return result.exit_code, result.stdout, result.stderr


def test_parse_cell_takes_hex_text_and_decimal() -> None:
    assert parse_cell(f"{HEX:x}") == parse_cell(f"0x{HEX:X}") == parse_cell(str(HEX)) == HEX
    for bad in ("", "zz", "0", "ffffffffffffffff", str(2**64)):
        with pytest.raises(ValueError, match="not an H3 cell"):
            parse_cell(bad)


def test_quote_then_buy_then_list(setup: Setup) -> None:
    depin = setup.depin
    price = depin.params.get_network("coverage", P.BOOST_PRICE)
    expected = boost_cost(price, 7, 3, 4)
    supply = depin.token.total_supply()
    code, out, _ = _run(
        setup,
        "boost",
        "--hex",
        f"{HEX:x}",
        "--multiplier",
        "3",
        "--epochs",
        "4",
        "--quote",
        "--json",
    )
    assert code == 0, out
    assert json.loads(out)["cost"] == str(expected)
    assert depin.token.total_supply() == supply  # a quote buys nothing

    args = ["--hex", f"{HEX:x}", "--multiplier", "3", "--epochs", "4", "--key-file"]
    code, out, err = _run(setup, "boost", *args, str(setup.key), "--json")
    assert code == 0, err
    bought = json.loads(out)
    assert bought["cost"] == str(expected)
    assert bought["last_epoch"] - bought["first_epoch"] == 3
    assert depin.token.total_supply() == supply - expected

    code, out, err = _run(setup, "boosts", "--epoch", str(bought["first_epoch"]), "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert listed["boosts"] == [
        {"hex": f"{HEX:x}", "multiplier": 3, "last_epoch": bought["last_epoch"]}
    ]
    assert listed["denylist"] == []
    code, out, _ = _run(setup, "boosts")
    assert code == 0 and "x3" in out and "denylist: empty" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--hex", "nothex", "--multiplier", "2", "--epochs", "1"], 2, "not an H3 cell"),
        (
            ["--hex", f"{h3.latlng_to_cell(1, 1, 12):x}", "--multiplier", "2", "--epochs", "1"],
            1,
            "InvalidHexCell",
        ),
        (["--hex", f"{HEX:x}", "--multiplier", "11", "--epochs", "1"], 1, "MultiplierAboveMax"),
        (["--hex", f"{HEX:x}", "--multiplier", "1", "--epochs", "1"], 2, ""),
        (["--hex", f"{HEX:x}", "--multiplier", "2", "--epochs", "0"], 2, ""),
    ],
)
def test_bad_requests_send_nothing(setup: Setup, args: list[str], code: int, message: str) -> None:
    supply = setup.depin.token.total_supply()
    got, _, err = _run(setup, "boost", *args, "--key-file", str(setup.key))
    assert got == code
    assert message in err
    assert setup.depin.token.total_supply() == supply


def test_a_buyer_without_the_dpk_is_told_so(setup: Setup) -> None:
    args = ["--hex", f"{HEX:x}", "--multiplier", "2", "--epochs", "1", "--key-file"]
    code, _, err = _run(setup, "boost", *args, str(setup.pauper))
    assert code == 1 and "holds 0 DPK" in err
    code, _, err = _run(setup, "boost", *args[:-1])
    assert code == 2 and "--keystore or --key-file" in err
