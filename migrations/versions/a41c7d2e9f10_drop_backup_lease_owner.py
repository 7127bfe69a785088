"""drop stored_files.backup_lease_owner: a lease is only its expiry

Revision ID: a41c7d2e9f10
Revises: 5b7e2d9c41a8
Create Date: 2026-12-02

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a41c7d2e9f10'
down_revision = '5b7e2d9c41a8'
branch_labels = None
depends_on = None


def upgrade():
    # Nothing ever read the owner: a claim is a conditional UPDATE on the expiry alone.
    # SQLite drops the column in place (3.35+): a batch migration would recreate the table
    # and lose the name-search triggers of 5b7e2d9c41a8.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE stored_files DROP COLUMN backup_lease_owner')
    else:
        op.drop_column('stored_files', 'backup_lease_owner')


def downgrade():
    op.add_column(
        'stored_files', sa.Column('backup_lease_owner', sa.String(length=64), nullable=True)
    )
