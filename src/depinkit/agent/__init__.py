"""depinkit.agent: the device runtime.

Roles produce report drafts on a schedule; the runtime signs them with the
device key, commits them to a durable SQLite outbox (with a sequence number
that is never reused) and delivers each report to every configured oracle
until each one acknowledges. See docs/agent.md.
"""

from depinkit.agent.clock import Clock, ManualClock, SystemClock
from depinkit.agent.config import AgentConfig, OracleEndpoint, RoleSettings, load_config
from depinkit.agent.errors import AgentError, ConfigError, OutboxError, RoleError
from depinkit.agent.outbox import DeliveryState, Outbox
from depinkit.agent.roles import HeartbeatRole, ReportDraft, Role, RoleContext
from depinkit.agent.runtime import AgentRuntime, ReportSigner, build_runtime
from depinkit.agent.sender import Sender

__all__ = [
    "AgentConfig",
    "AgentError",
    "AgentRuntime",
    "Clock",
    "ConfigError",
    "DeliveryState",
    "HeartbeatRole",
    "ManualClock",
    "OracleEndpoint",
    "Outbox",
    "OutboxError",
    "ReportDraft",
    "ReportSigner",
    "Role",
    "RoleContext",
    "RoleError",
    "RoleSettings",
    "Sender",
    "SystemClock",
    "build_runtime",
    "load_config",
]
