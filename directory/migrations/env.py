"""Alembic environment: runs against the engine that directory.db.alembic_config() attached."""

from alembic import context
from sqlalchemy import create_engine

import directory.models  # noqa: F401  (fills Base.metadata)
from directory.db import Base, UTCDateTime, include_in_schema_comparison

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Render our UTC datetime type as the plain column type it stores, so that migrations
    do not import application code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            render_item=render_item,
            include_name=include_in_schema_comparison,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
