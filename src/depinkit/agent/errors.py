"""Errors raised by the device agent.

All derive from :class:`depinkit.core.errors.DepinkitError` so the CLI can turn
any of them into one clear message and a non-zero exit code.
"""

from __future__ import annotations

from depinkit.core.errors import DepinkitError


class AgentError(DepinkitError):
    """Base of the agent's errors."""


class ConfigError(AgentError):
    """The agent configuration file or an environment override is invalid."""


class OutboxError(AgentError):
    """The outbox database is unusable (wrong schema version, foreign device)."""


class RoleError(AgentError):
    """A role is unknown, misconfigured, or produced an invalid report draft."""
