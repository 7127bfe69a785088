"""name order index: (owner_id, lower(name), id) for case-insensitive name pages

Revision ID: 3c1f0e9a7b52
Revises: 8838520380bd
Create Date: 2026-11-28

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c1f0e9a7b52'
down_revision = '8838520380bd'
branch_labels = None
depends_on = None


def upgrade():
    # Written by hand: autogenerate does not emit expression indexes on SQLite. A plain
    # CREATE INDEX (no batch mode) needs no table copy on either database.
    op.create_index(
        'ix_stored_files_owner_lower_name',
        'stored_files',
        ['owner_id', sa.text('lower(name)'), 'id'],
        unique=False,
    )


def downgrade():
    op.drop_index('ix_stored_files_owner_lower_name', table_name='stored_files')
