"""name search indexes: pg_trgm GIN on PostgreSQL, an FTS5 trigram table on SQLite

Revision ID: 5b7e2d9c41a8
Revises: 3c1f0e9a7b52
Create Date: 2026-12-01

"""
import logging

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b7e2d9c41a8'
down_revision = '3c1f0e9a7b52'
branch_labels = None
depends_on = None

log = logging.getLogger('alembic.runtime.migration')

# Written by hand: each database gets its own index, neither of which the models or
# autogenerate can express (securestore/files/search.py keeps autogenerate away from them).
# SQLite's triggers belong to stored_files: a later batch migration that recreates that table
# drops them, and must create them again (tests/test_name_search.py checks they work at head).
SQLITE_UPGRADE = [
    "CREATE VIRTUAL TABLE stored_files_name_fts USING fts5("
    "name, content='stored_files', content_rowid='id', tokenize='trigram')",
    "INSERT INTO stored_files_name_fts(stored_files_name_fts) VALUES ('rebuild')",
    "CREATE TRIGGER stored_files_name_fts_insert AFTER INSERT ON stored_files BEGIN"
    " INSERT INTO stored_files_name_fts(rowid, name) VALUES (new.id, new.name); END",
    "CREATE TRIGGER stored_files_name_fts_delete AFTER DELETE ON stored_files BEGIN"
    " INSERT INTO stored_files_name_fts(stored_files_name_fts, rowid, name)"
    " VALUES ('delete', old.id, old.name); END",
    "CREATE TRIGGER stored_files_name_fts_update AFTER UPDATE OF id, name ON stored_files BEGIN"
    " INSERT INTO stored_files_name_fts(stored_files_name_fts, rowid, name)"
    " VALUES ('delete', old.id, old.name);"
    " INSERT INTO stored_files_name_fts(rowid, name) VALUES (new.id, new.name); END",
]
SQLITE_DOWNGRADE = [
    "DROP TRIGGER stored_files_name_fts_update",
    "DROP TRIGGER stored_files_name_fts_delete",
    "DROP TRIGGER stored_files_name_fts_insert",
    "DROP TABLE stored_files_name_fts",
]


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        # Needs SQLite 3.34+ (the trigram tokenizer); an older one fails here, loudly.
        for statement in SQLITE_UPGRADE:
            op.execute(statement)
    elif dialect == 'postgresql' and _create_pg_trgm():
        op.create_index(
            'ix_stored_files_name_trgm',
            'stored_files',
            ['name'],
            postgresql_using='gin',
            postgresql_ops={'name': 'gin_trgm_ops'},
        )


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        for statement in SQLITE_DOWNGRADE:
            op.execute(statement)
    elif dialect == 'postgresql':
        # IF EXISTS: the upgrade skips the index without pg_trgm. The extension stays: other
        # schemas in the database may use it.
        op.execute('DROP INDEX IF EXISTS ix_stored_files_name_trgm')


def _create_pg_trgm():
    """Create pg_trgm if it is missing; without it the name filter works, only slower.

    It is a trusted extension (the database owner may create it; RDS offers it), but a role
    that does not own the database, or a server built without contrib, cannot.
    """
    try:
        with op.get_bind().begin_nested():
            op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    except sa.exc.DBAPIError as error:
        log.warning(
            'pg_trgm could not be created (%s); name filters will read every name. '
            'Once it exists, `flask db downgrade 3c1f0e9a7b52` and `flask db upgrade` index them.',
            str(error.orig).strip(),
        )
        return False
    return True
