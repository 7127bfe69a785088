"""listing indexes: names in the owner/time index, owner/size index

Revision ID: fef27e4c7ee6
Revises: d6b84c2d4609
Create Date: 2026-11-28

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'fef27e4c7ee6'
down_revision = 'd6b84c2d4609'
branch_labels = None
depends_on = None


def upgrade():
    # The new index first: listing pages stay indexed while the old one goes.
    with op.batch_alter_table('stored_files', schema=None) as batch_op:
        batch_op.create_index('ix_stored_files_owner_created_name', ['owner_id', 'created_at', 'id', 'name'], unique=False)
        batch_op.drop_index(batch_op.f('ix_stored_files_owner_created'))
        batch_op.create_index('ix_stored_files_owner_size', ['owner_id', 'size', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('stored_files', schema=None) as batch_op:
        batch_op.drop_index('ix_stored_files_owner_size')
        batch_op.create_index(batch_op.f('ix_stored_files_owner_created'), ['owner_id', 'created_at', 'id'], unique=False)
        batch_op.drop_index('ix_stored_files_owner_created_name')
