"""Alembic migrations on both catalogs: from an empty database, and from every earlier
revision, `upgrade head` gives exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import app.models  # noqa: F401 - the tables, registered on SQLModel.metadata
from app.catalog import MIGRATIONS_DIR, make_engine

REVISIONS = [script.revision for script in
             reversed(list(ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()))]


def _upgrade(engine, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def _differences(engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return compare_metadata(context, SQLModel.metadata)


# From an empty catalog (a new station: every revision in turn) and from the last few (the
# upgrades stations in the field make). Starting from each older revision ran the very same
# migrations on the very same schema: 38 cases grown quadratically with the revisions.
STARTS = [None, *REVISIONS[-4:-1]]


@pytest.mark.parametrize("start", STARTS, ids=["empty", *[f"from-{r}" for r in STARTS[1:]]])
def test_upgrade_to_head_gives_the_models_schema(request, database_url, tmp_path: Path, start):
    url = database_url or f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    engine = make_engine(url)
    try:
        if start is not None:
            _upgrade(engine, start)
        _upgrade(engine, "head")
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == REVISIONS[-1]
        assert _differences(engine) == []
    finally:
        engine.dispose()


def test_there_are_revisions_to_start_from():
    assert len(REVISIONS) >= 6 and REVISIONS[0] == "0001"
