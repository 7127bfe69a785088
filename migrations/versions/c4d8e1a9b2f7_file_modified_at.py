"""stored_files.modified_at: when a replacing upload or a version restore gave a new content

Revision ID: c4d8e1a9b2f7
Revises: a7e4f2c9d1b6
Create Date: 2026-12-03

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4d8e1a9b2f7'
down_revision = 'a7e4f2c9d1b6'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN: no table copy on SQLite (which would drop the name-search triggers).
    op.add_column('stored_files', sa.Column('modified_at', sa.DateTime(timezone=True)))


def downgrade():
    op.drop_column('stored_files', 'modified_at')
