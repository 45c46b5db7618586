"""`depinkit claim`: fetch an account's claim proof from an oracle and claim on chain.

The oracle serves ``GET /v1/claims/{account}`` (cumulative total and Merkle proof for the
latest settled epoch); the proof is checked against the root the RewardsDistributor holds
before anything is sent, so a lagging oracle costs an error message, not a failed
transaction. Anyone may send the claim (the tokens always go to ``account``); the sender
pays the gas.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from depinkit.cli.passphrase import read_passphrase
from depinkit.core.errors import DepinkitError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from depinkit.chain import Depin

CLAIM_TIMEOUT_S = 30.0  # seconds to wait for the oracle's answer


class ClaimError(DepinkitError):
    """The oracle has no usable proof, or the chain would refuse the claim."""


def fetch_claim(oracle_url: str, account: str) -> tuple[int, list[bytes], bytes]:
    """(cumulative, proof, root) the oracle serves for ``account``."""
    import httpx
    import msgspec

    from depinkit.oracle.epochs.views import ClaimBody

    url = f"{oracle_url.rstrip('/')}/v1/claims/{account}"
    try:
        response = httpx.get(url, timeout=CLAIM_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise ClaimError(f"oracle at {oracle_url} did not answer: {exc}") from exc
    if response.status_code != 200:
        raise ClaimError(f"oracle refused: HTTP {response.status_code} {response.text}")
    try:
        body = msgspec.json.decode(response.content, type=ClaimBody)
        proof = [bytes.fromhex(p.removeprefix("0x")) for p in body.proof]
        return int(body.cumulative), proof, bytes.fromhex(body.root.removeprefix("0x"))
    except (msgspec.MsgspecError, ValueError) as exc:
        raise ClaimError(f"oracle sent a malformed claim: {exc}") from exc


def claim_from_oracle(depin: Depin, sender: LocalAccount, oracle_url: str, account: str) -> int:
    """Claim ``account``'s unclaimed rewards with the oracle's proof; return the amount paid."""
    from depinkit.core.merkle import verify

    cumulative, proof, root = fetch_claim(oracle_url, account)
    rewards = depin.rewards
    on_chain = rewards.root()
    if root != on_chain:
        raise ClaimError(
            f"oracle's proof is for root 0x{root.hex()}, the chain holds 0x{on_chain.hex()}: "
            "ask an oracle that has caught up"
        )
    if not verify(on_chain, account, cumulative, proof):
        raise ClaimError("the oracle's proof does not verify against the chain's root")
    already = rewards.claimed(account)
    if cumulative <= already:
        raise ClaimError(f"nothing to claim: {already} of {cumulative} already claimed")
    rewards.claim(sender, account, cumulative, proof)
    return cumulative - already


def claim(
    rpc: Annotated[str, typer.Option("--rpc", help="JSON-RPC URL of the chain.")],
    manifest: Annotated[
        Path, typer.Option("--manifest", help="Deployment manifest (JSON).", exists=True)
    ],
    oracle: Annotated[str, typer.Option("--oracle", help="Oracle API base URL.")],
    account: Annotated[str, typer.Option("--account", help="Account to claim for.")],
    key_file: Annotated[
        Path, typer.Option("--key-file", help="Keystore of the account paying the gas.")
    ],
    passphrase_file: Annotated[Path | None, typer.Option("--passphrase-file")] = None,
) -> None:
    """Claim an account's rewards on chain with the proof an oracle serves."""
    from eth_account import Account as EthAccount

    from depinkit.chain import Depin
    from depinkit.core.keys import is_address
    from depinkit.core.keystore import load_keystore

    if not is_address(account):
        typer.secho(f"error: not an address: {account}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    try:
        passphrase = read_passphrase(passphrase_file)
        sender = EthAccount.from_key(load_keystore(key_file, passphrase).private_key)
        depin = Depin.connect(rpc, manifest)
        paid = claim_from_oracle(depin, sender, oracle, account)
    except DepinkitError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"claimed {paid} base units for {account}")
