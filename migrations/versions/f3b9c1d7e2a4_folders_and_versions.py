"""folders, versions and the move journal; file names unique per folder (through their key)

Revision ID: f3b9c1d7e2a4
Revises: e5c2a7d9b318
Create Date: 2026-12-03

"""
import importlib.util
import warnings
from contextlib import contextmanager
from pathlib import Path

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f3b9c1d7e2a4'
down_revision = 'e5c2a7d9b318'
branch_labels = None
depends_on = None

KEY = sa.String(length=1100)
OLD_KEY = sa.String(length=300)


def _name_search():
    """Migration 5b7e2d9c41a8, whose SQLite triggers a batch copy of stored_files drops."""
    path = Path(__file__).with_name('5b7e2d9c41a8_name_search_indexes.py')
    spec = importlib.util.spec_from_file_location('name_search_indexes', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _after_stored_files_copy():
    """Recreate what SQLite's batch copy of stored_files loses: triggers, expression index."""
    if op.get_bind().dialect.name != 'sqlite':
        return
    for statement in _name_search().SQLITE_UPGRADE:
        if statement.startswith('CREATE TRIGGER'):
            op.execute(statement)
    op.execute(
        'CREATE INDEX IF NOT EXISTS ix_stored_files_owner_lower_name'
        ' ON stored_files (owner_id, lower(name), id)'
    )


@contextmanager
def _stored_files_batch():
    """Batch-alter stored_files; on SQLite a copy of the table (see `_after_stored_files_copy`).

    SQLite's reflection skips the expression index with a warning; it is recreated after.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', '(?s).*expression-based index')
        with op.batch_alter_table('stored_files') as batch:
            yield batch
    _after_stored_files_copy()


def upgrade():
    op.create_table(
        'folders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('parent_id', sa.Integer(), nullable=True),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('path', KEY, nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['parent_id'], ['folders.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('owner_id', 'path', name='uq_folders_owner_path'),
    )
    op.create_index('ix_folders_owner_parent_name', 'folders', ['owner_id', 'parent_id', 'name'])
    op.create_index('ix_folders_deleted_at', 'folders', ['deleted_at'])
    op.create_index(
        'ix_folders_owner_parent_lower_name',
        'folders',
        ['owner_id', 'parent_id', sa.text('lower(name)'), 'id'],
    )
    with _stored_files_batch() as batch:
        batch.drop_constraint('uq_stored_files_owner_name', type_='unique')
        batch.alter_column('key', existing_type=OLD_KEY, type_=KEY, existing_nullable=False)
        batch.add_column(sa.Column('folder_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(
            'fk_stored_files_folder_id_folders', 'folders', ['folder_id'], ['id'],
            ondelete='CASCADE',
        )
    op.create_index(
        'ix_stored_files_folder_name', 'stored_files', ['owner_id', 'folder_id', 'name']
    )
    op.create_index(
        'ix_stored_files_folder_created',
        'stored_files',
        ['owner_id', 'folder_id', 'created_at', 'id'],
    )
    op.create_index(
        'ix_stored_files_folder_size', 'stored_files', ['owner_id', 'folder_id', 'size', 'id']
    )
    op.create_index(
        'ix_stored_files_folder_lower_name',
        'stored_files',
        ['owner_id', 'folder_id', sa.text('lower(name)'), 'id'],
    )
    op.create_table(
        'file_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('file_id', sa.Integer(), nullable=False),
        sa.Column('key', KEY, nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('content_type', sa.String(length=255), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('backed_up_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['file_id'], ['stored_files.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    op.create_index(
        'ix_file_versions_file_created', 'file_versions', ['file_id', 'created_at']
    )
    op.create_table(
        'pending_moves',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('file_id', sa.Integer(), nullable=False),
        sa.Column('from_key', KEY, nullable=False),
        sa.Column('to_key', KEY, nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['file_id'], ['stored_files.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('file_id'),
    )


def downgrade():
    op.drop_table('pending_moves')
    op.drop_index('ix_file_versions_file_created', table_name='file_versions')
    op.drop_table('file_versions')
    for index in ('folder_lower_name', 'folder_size', 'folder_created', 'folder_name'):
        op.drop_index(f'ix_stored_files_{index}', table_name='stored_files')
    # A schema without folders cannot hold files in folders; refuse rather than drop rows.
    in_folders = op.get_bind().scalar(
        sa.text('SELECT count(*) FROM stored_files WHERE folder_id IS NOT NULL')
    )
    if in_folders:
        raise RuntimeError(
            f'{in_folders} file(s) are in folders: move them to the root before downgrading'
        )
    with _stored_files_batch() as batch:
        batch.drop_constraint('fk_stored_files_folder_id_folders', type_='foreignkey')
        batch.drop_column('folder_id')
        batch.alter_column('key', existing_type=KEY, type_=OLD_KEY, existing_nullable=False)
        batch.create_unique_constraint('uq_stored_files_owner_name', ['owner_id', 'name'])
    op.drop_index('ix_folders_owner_parent_lower_name', table_name='folders')
    op.drop_index('ix_folders_deleted_at', table_name='folders')
    op.drop_index('ix_folders_owner_parent_name', table_name='folders')
    op.drop_table('folders')
