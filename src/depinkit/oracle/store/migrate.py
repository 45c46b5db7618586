"""Run the Alembic migrations programmatically: no alembic.ini at runtime.

The script location is the ``depinkit.oracle:migrations`` package, so the
migrations ship inside the wheel and ``depinkit oracle migrate`` works from
any directory.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from depinkit.oracle.store.engine import WRITE_OPTION

SCRIPT_LOCATION = "depinkit.oracle:migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` in one transaction."""
    config = alembic_config()
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
