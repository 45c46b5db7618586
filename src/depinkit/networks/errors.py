"""Errors of depinkit.networks: registration, lookup and malformed module output."""

from __future__ import annotations

from depinkit.core.errors import DepinkitError


class NetworkError(DepinkitError):
    """A network cannot be registered or looked up, or a module broke its contract."""


class UnknownNetwork(NetworkError, KeyError):
    """No network of that name is registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown network"


class UnknownKind(NetworkError, KeyError):
    """The network has no report kind of that name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown kind"
