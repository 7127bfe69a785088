"""direct uploads: pending_uploads, S3's checksum of a file, sha256 unknown for direct uploads

Revision ID: f1d2c3b4a5e6
Revises: c4d8e1a9b2f7
Create Date: 2026-12-03

"""
import contextlib
import importlib.util
import warnings
from pathlib import Path

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f1d2c3b4a5e6'
down_revision = 'c4d8e1a9b2f7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'pending_uploads',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('upload_id', sa.String(length=1024), nullable=True),
        sa.Column('folder_id', sa.Integer(), nullable=True),
        sa.Column('key', sa.String(length=1100), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('content_type', sa.String(length=255), nullable=False),
        sa.Column('part_size', sa.BigInteger(), nullable=False),
        sa.Column('checksummed', sa.Boolean(), nullable=True),
        sa.Column('part_checksums', sa.Text(), nullable=True),
        sa.Column('reservation_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['folder_id'], ['folders.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        # Two uploads never aim at one key, so never at one name in one folder.
        sa.UniqueConstraint('key'),
    )
    op.create_index('ix_pending_uploads_expires_at', 'pending_uploads', ['expires_at'])
    # SQLite cannot alter a column in place: batch mode copies the table.
    with _expression_index_unseen(), op.batch_alter_table('stored_files') as batch:
        batch.add_column(sa.Column('checksum', sa.String(length=100), nullable=True))
        batch.alter_column('sha256', existing_type=sa.String(length=64), nullable=True)
    _recreate_sqlite_extras()
    with _expression_index_unseen(), op.batch_alter_table('file_versions') as batch:
        batch.add_column(sa.Column('checksum', sa.String(length=100), nullable=True))
        batch.alter_column('sha256', existing_type=sa.String(length=64), nullable=True)


def downgrade():
    with _expression_index_unseen(), op.batch_alter_table('file_versions') as batch:
        batch.alter_column('sha256', existing_type=sa.String(length=64), nullable=False)
        batch.drop_column('checksum')
    # A direct upload has no SHA-256 to put back; downgrading needs none of them left.
    with _expression_index_unseen(), op.batch_alter_table('stored_files') as batch:
        batch.alter_column('sha256', existing_type=sa.String(length=64), nullable=False)
        batch.drop_column('checksum')
    _recreate_sqlite_extras()
    op.drop_index('ix_pending_uploads_expires_at', table_name='pending_uploads')
    op.drop_table('pending_uploads')


def _recreate_sqlite_extras():
    """SQLite cannot alter a column in place, so the batch recreates stored_files, which drops
    the name-search triggers of 5b7e2d9c41a8 (its FTS5 table, keyed by id, stays) and the
    expression indexes SQLite's reflection cannot see: all are made again here."""
    if op.get_bind().dialect.name != 'sqlite':
        return
    path = Path(__file__).with_name('5b7e2d9c41a8_name_search_indexes.py')
    spec = importlib.util.spec_from_file_location('name_search_indexes', path)
    name_search = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(name_search)
    for statement in name_search.SQLITE_UPGRADE:
        if statement.startswith('CREATE TRIGGER'):
            op.execute(statement)
    op.execute('CREATE INDEX IF NOT EXISTS ix_stored_files_owner_lower_name'
               ' ON stored_files (owner_id, lower(name), id)')
    op.execute('CREATE INDEX IF NOT EXISTS ix_stored_files_folder_lower_name'
               ' ON stored_files (owner_id, folder_id, lower(name), id)')



@contextlib.contextmanager
def _expression_index_unseen():
    """Silence SQLite's reflection about the expression index it skips (made again above)."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', '(?s).*expression-based index')
        yield
