"""users.totp_pending_secret and totp_pending_until: the 2FA setup secret kept server-side

Revision ID: b7d3e8f21c04
Revises: a41c7d2e9f10
Create Date: 2026-12-02

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7d3e8f21c04'
down_revision = 'a41c7d2e9f10'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (nullable) on both databases: no batch copy of the users table.
    op.add_column('users', sa.Column('totp_pending_secret', sa.String(length=64), nullable=True))
    op.add_column(
        'users', sa.Column('totp_pending_until', sa.DateTime(timezone=True), nullable=True)
    )


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_pending_until')
        batch_op.drop_column('totp_pending_secret')
