"""Real provider processes on loopback (the helpers live in the package, for benchmarks too)."""

from __future__ import annotations

from depinkit.networks.compute.provider_process import (
    ProviderProcess,
    free_port,
    start_provider,
    start_providers,
)

__all__ = ["ProviderProcess", "free_port", "start_provider", "start_providers"]
