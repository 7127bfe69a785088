"""direct uploads: pending_uploads, S3's checksum of a file, sha256 unknown for direct uploads

Revision ID: f1d2c3b4a5e6
Revises: e5c2a7d9b318
Create Date: 2026-12-03

"""
import contextlib
import warnings

from alembic import op
import sqlalchemy as sa


# SQLite cannot make a column nullable in place, so the batch below recreates stored_files,
# which drops the name-search triggers of 5b7e2d9c41a8 (its FTS5 table, keyed by id, stays)
# and the expression index SQLite's reflection cannot see: both are made again here.
SQLITE_RECREATE = [
    "CREATE TRIGGER IF NOT EXISTS stored_files_name_fts_insert AFTER INSERT ON stored_files"
    " BEGIN INSERT INTO stored_files_name_fts(rowid, name) VALUES (new.id, new.name); END",
    "CREATE TRIGGER IF NOT EXISTS stored_files_name_fts_delete AFTER DELETE ON stored_files"
    " BEGIN INSERT INTO stored_files_name_fts(stored_files_name_fts, rowid, name)"
    " VALUES ('delete', old.id, old.name); END",
    "CREATE TRIGGER IF NOT EXISTS stored_files_name_fts_update AFTER UPDATE OF id, name"
    " ON stored_files BEGIN"
    " INSERT INTO stored_files_name_fts(stored_files_name_fts, rowid, name)"
    " VALUES ('delete', old.id, old.name);"
    " INSERT INTO stored_files_name_fts(rowid, name) VALUES (new.id, new.name); END",
    "CREATE INDEX IF NOT EXISTS ix_stored_files_owner_lower_name"
    " ON stored_files (owner_id, lower(name), id)",
]

# revision identifiers, used by Alembic.
revision = 'f1d2c3b4a5e6'
down_revision = 'e5c2a7d9b318'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'pending_uploads',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('upload_id', sa.String(length=1024), nullable=True),
        sa.Column('key', sa.String(length=300), nullable=False),
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
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
        sa.UniqueConstraint('owner_id', 'name', name='uq_pending_uploads_owner_name'),
    )
    op.create_index('ix_pending_uploads_expires_at', 'pending_uploads', ['expires_at'])
    # SQLite cannot alter a column in place: batch mode copies the table.
    with _expression_index_unseen(), op.batch_alter_table('stored_files') as batch:
        batch.add_column(sa.Column('checksum', sa.String(length=100), nullable=True))
        batch.alter_column('sha256', existing_type=sa.String(length=64), nullable=True)
    _recreate_sqlite_extras()


def downgrade():
    # A direct upload has no SHA-256 to put back; downgrading needs none of them left.
    with _expression_index_unseen(), op.batch_alter_table('stored_files') as batch:
        batch.alter_column('sha256', existing_type=sa.String(length=64), nullable=False)
        batch.drop_column('checksum')
    _recreate_sqlite_extras()
    op.drop_index('ix_pending_uploads_expires_at', table_name='pending_uploads')
    op.drop_table('pending_uploads')


def _recreate_sqlite_extras():
    if op.get_bind().dialect.name == 'sqlite':
        for statement in SQLITE_RECREATE:
            op.execute(statement)



@contextlib.contextmanager
def _expression_index_unseen():
    """Silence SQLite's reflection about the expression index it skips (made again above)."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', '(?s).*expression-based index')
        yield
