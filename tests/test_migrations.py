"""The schema is built only by the committed migrations, on SQLite and on PostgreSQL."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from securestore import create_app
from securestore.auth.models import User
from securestore.db_types import utcnow
from securestore.extensions import db
from securestore.files.models import BackupState, StoredFile
from securestore.files.search import FTS_TABLE, TRIGRAM_INDEX, include_name
from tests.fixtures.apps import base_config


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/fresh.db"
    return str(request.getfixturevalue("postgres_url"))


def test_upgrade_builds_a_schema_matching_the_models(empty_database: str, s3: Any) -> None:
    app = create_app(base_config(empty_database))
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection, warnings.catch_warnings():
            if connection.dialect.name == "sqlite":
                # SQLite's reflection cannot see expression indexes, so Alembic skips them
                # (warning about each); they are checked by name below instead.
                warnings.filterwarnings("ignore", "(?s).*expression-based index")
            # The trigram indexes are built by hand, outside the models (files.search).
            context = MigrationContext.configure(connection, opts={"include_name": include_name})
            differences = compare_metadata(context, db.metadata)
            sqlite = connection.dialect.name == "sqlite"
            built = set(
                connection.scalars(sa.text("SELECT name FROM sqlite_master"))
                if sqlite
                else (index["name"] for index in sa.inspect(connection).get_indexes("stored_files"))
            )
        assert differences == []
        assert "ix_stored_files_owner_lower_name" in built
        assert (FTS_TABLE if sqlite else TRIGRAM_INDEX) in built
        downgrade(revision="base")
        assert sa.inspect(db.engine).get_table_names() == ["alembic_version"]
        db.engine.dispose()


def test_models_round_trip_with_aware_utc_times(empty_database: str, s3: Any) -> None:
    app = create_app(base_config(empty_database))
    with app.app_context():
        upgrade()
        user = User(username="alice", password_hash="x")
        db.session.add(user)
        db.session.flush()
        db.session.add(
            StoredFile(
                owner_id=user.id,
                name="a.txt",
                key="alice/a.txt",
                size=5 * 1024**3,
                content_type="text/plain",
                sha256="0" * 64,
                backup_state=BackupState.PENDING,
            )
        )
        db.session.commit()
        db.session.expire_all()
        stored = db.session.scalar(sa.select(StoredFile))
        assert stored is not None
        assert stored.size == 5 * 1024**3
        assert stored.backup_state is BackupState.PENDING
        assert stored.created_at.tzinfo is not None
        assert abs((utcnow() - stored.created_at).total_seconds()) < 60
        duplicate = StoredFile(
            owner_id=user.id,
            name="other.txt",
            key="alice/a.txt",
            size=1,
            content_type="text/plain",
            sha256="0" * 64,
        )
        db.session.add(duplicate)
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()


def test_migrations_have_a_single_head() -> None:
    """Branches that each add a migration must be re-chained, not merged with two heads."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from securestore import _migrations_directory

    config = Config()
    config.set_main_option("script_location", _migrations_directory())
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1
