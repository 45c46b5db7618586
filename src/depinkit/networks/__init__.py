"""depinkit.networks: network modules and the registry that finds them.

A network module (:class:`NetworkModule`) declares its report kinds, reward
buckets and governed parameters, and implements pure ``verify`` and ``score``
over an :class:`EpochContext`. See docs/networks/README.md.
"""

from depinkit.networks.checks import distinct_by_id, precheck
from depinkit.networks.context import (
    DEVICE_ACTIVE,
    DEVICE_UNBONDING,
    DEVICE_WITHDRAWN,
    DeviceInfo,
    DeviceView,
    EpochContext,
    ParameterSpec,
    resolve_parameters,
)
from depinkit.networks.errors import NetworkError, UnknownKind, UnknownNetwork
from depinkit.networks.module import (
    CHAIN_BOOSTS,
    CHAIN_DENYLIST,
    CHAIN_INPUTS,
    COMMON_REASONS,
    INACTIVE_DEVICE,
    MALFORMED_BODY,
    MAX_POINTS,
    NETWORK_MISMATCH,
    OUTSIDE_EPOCH,
    UNKNOWN_DEVICE,
    UNKNOWN_KIND,
    WRONG_EPOCH,
    WRONG_NETWORK,
    Explanation,
    NetworkModule,
    ReceivedReport,
    Scores,
    Verdict,
    accept,
    check_explanation,
    check_output,
    reject,
    run_module,
)
from depinkit.networks.registry import (
    ENTRY_POINT_GROUP,
    NetworkRegistry,
    default_registry,
)
from depinkit.networks.spec import NetworkSpec

__all__ = [
    "CHAIN_BOOSTS",
    "CHAIN_DENYLIST",
    "CHAIN_INPUTS",
    "COMMON_REASONS",
    "DEVICE_ACTIVE",
    "DEVICE_UNBONDING",
    "DEVICE_WITHDRAWN",
    "ENTRY_POINT_GROUP",
    "INACTIVE_DEVICE",
    "MALFORMED_BODY",
    "MAX_POINTS",
    "NETWORK_MISMATCH",
    "OUTSIDE_EPOCH",
    "UNKNOWN_DEVICE",
    "UNKNOWN_KIND",
    "WRONG_EPOCH",
    "WRONG_NETWORK",
    "DeviceInfo",
    "DeviceView",
    "EpochContext",
    "Explanation",
    "NetworkError",
    "NetworkModule",
    "NetworkRegistry",
    "NetworkSpec",
    "ParameterSpec",
    "ReceivedReport",
    "Scores",
    "UnknownKind",
    "UnknownNetwork",
    "Verdict",
    "accept",
    "check_explanation",
    "check_output",
    "default_registry",
    "distinct_by_id",
    "precheck",
    "reject",
    "resolve_parameters",
    "run_module",
]
