"""stored_files.backup_locked_until: until when the backup copy is under Object Lock

Revision ID: c3a9e61f5d27
Revises: b7d3e8f21c04
Create Date: 2026-12-02

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3a9e61f5d27'
down_revision = 'b7d3e8f21c04'
branch_labels = None
depends_on = None


def upgrade():
    # NULL: never locked (BACKUP_LOCK_MODE off, or a copy made before it was on); `backup
    # sync` locks those first. The index lets each sync find the locks that run low.
    op.add_column('stored_files', sa.Column('backup_locked_until', sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        'ix_stored_files_backup_locked_until', 'stored_files', ['backup_locked_until']
    )


def downgrade():
    op.drop_index('ix_stored_files_backup_locked_until', table_name='stored_files')
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE stored_files DROP COLUMN backup_locked_until')
    else:
        op.drop_column('stored_files', 'backup_locked_until')
