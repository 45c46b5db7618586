"""The chain indexer: follows DeviceRegistry events into the devices table.

It reads only blocks at least ``confirmations`` deep (a shallower reorg can
not change what it wrote), asks for logs in bounded block ranges (providers
cap both ranges and result sizes), and writes each range's rows together with
its checkpoint in one transaction: after a crash it resumes from the last
committed block and never applies an event twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

from eth_typing import ABIEvent
from eth_utils import event_abi_to_log_topic
from web3 import Web3

from depinkit.chain.contracts import load_artifact
from depinkit.chain.deploy import Deployment
from depinkit.chain.errors import ChainError
from depinkit.oracle.device_events import (
    DEVICE_EVENTS,
    DeviceEvent,
    apply_events,
    network_names,
)
from depinkit.oracle.errors import IndexerError
from depinkit.oracle.logs import get_logger
from depinkit.oracle.store import Store, checkpoints, devices

CHECKPOINT = "device_registry"  # checkpoint row of this follower


def load_manifest(path: Path) -> Deployment:
    """The deployment manifest written by ``depinkit chain deploy``."""
    try:
        return Deployment.load(path)
    except ChainError as exc:
        raise IndexerError(str(exc)) from exc


class RegistryIndexer:
    """Follows one DeviceRegistry; ``catch_up`` for a one-shot run, ``run`` to follow."""

    def __init__(
        self,
        w3: Web3,
        registry: str,
        store: Store,
        *,
        start_block: int,
        confirmations: int,
        max_block_range: int,
        network_names_: Iterable[str] = (),
    ) -> None:
        if confirmations < 0 or max_block_range < 1:
            raise IndexerError("confirmations >= 0 and max_block_range >= 1 are required")
        self._w3 = w3
        self._address = Web3.to_checksum_address(registry)
        self._contract = w3.eth.contract(
            address=self._address, abi=load_artifact("DeviceRegistry").abi
        )
        self._store = store
        self._start_block = start_block
        self._confirmations = confirmations
        self._max_range = max_block_range
        self._names = network_names(network_names_)
        self._topics: dict[bytes, str] = {}
        for entry in self._contract.abi:
            if entry.get("type") == "event" and entry.get("name") in DEVICE_EVENTS:
                event_abi = cast(ABIEvent, entry)
                self._topics[bytes(event_abi_to_log_topic(event_abi))] = event_abi["name"]
        if len(self._topics) != len(DEVICE_EVENTS):
            raise IndexerError("DeviceRegistry ABI lacks some device events")
        self._log = get_logger("depinkit.oracle.indexer")

    @classmethod
    def connect(
        cls,
        rpc_url: str,
        deployment: Deployment,
        store: Store,
        *,
        confirmations: int,
        max_block_range: int,
        network_names: Iterable[str] = (),
    ) -> RegistryIndexer:
        w3 = Web3(Web3.HTTPProvider(rpc_url))
        try:
            chain_id = w3.eth.chain_id
        except Exception as exc:
            raise IndexerError(f"no EVM JSON-RPC node answers at {rpc_url}: {exc}") from exc
        if chain_id != deployment.chain_id:
            raise IndexerError(f"manifest is for chain {deployment.chain_id}, node is {chain_id}")
        return cls(
            w3,
            deployment.registry,
            store,
            start_block=deployment.deployment_block,
            confirmations=confirmations,
            max_block_range=max_block_range,
            network_names_=network_names,
        )

    def last_block(self) -> int:
        """The last block fully indexed (start_block - 1 before the first run)."""
        done = self._store.checkpoint(CHECKPOINT)
        return self._start_block - 1 if done is None else done

    def confirmed_head(self) -> int:
        return int(self._w3.eth.block_number) - self._confirmations

    def step(self) -> int | None:
        """Index one bounded range past the checkpoint; None when nothing is confirmed yet."""
        first = self.last_block() + 1
        last = min(self.confirmed_head(), first + self._max_range - 1)
        if last < first:
            return None
        events = self._fetch(first, last)
        with self._store.write() as conn:
            if checkpoints.get_block(conn, CHECKPOINT) not in (None, first - 1):
                raise IndexerError("another indexer advanced the checkpoint concurrently")
            addresses = {Web3.to_checksum_address(e.args["device"]) for e in events}
            current = devices.get_rows(conn, addresses)
            rows = apply_events(current, events, self._names)
            devices.upsert_rows(conn, list(rows.values()))
            checkpoints.set_block(conn, CHECKPOINT, last)
        self._log.info("indexed", first=first, last=last, events=len(events), devices=len(rows))
        return last

    def catch_up(self) -> int:
        """Index every confirmed block; return the last block indexed."""
        while self.step() is not None:
            pass
        return self.last_block()

    def run(self, *, poll_interval_s: float, stop: threading.Event | None = None) -> None:
        """Follow the chain until ``stop`` is set (or forever)."""
        stop = stop or threading.Event()
        while not stop.is_set():
            self.catch_up()
            stop.wait(poll_interval_s)

    def _fetch(self, first: int, last: int) -> list[DeviceEvent]:
        logs = self._w3.eth.get_logs(
            {
                "address": self._address,
                "fromBlock": first,
                "toBlock": last,
                "topics": [["0x" + t.hex() for t in self._topics]],
            }
        )
        return self._decode(logs)

    def _decode(self, logs: Sequence[Any]) -> list[DeviceEvent]:
        events = []
        for log in logs:
            topics = log["topics"]
            name = self._topics.get(bytes(topics[0])) if topics else None
            if name is None:
                continue
            decoded = getattr(self._contract.events, name)().process_log(log)
            events.append(
                DeviceEvent(
                    name=name,
                    args=dict(decoded["args"]),
                    block=int(decoded["blockNumber"]),
                    log_index=int(decoded["logIndex"]),
                )
            )
        events.sort(key=lambda e: (e.block, e.log_index))
        return events
