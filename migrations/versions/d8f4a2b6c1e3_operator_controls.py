"""operator controls: admins, disabled and deleted accounts, quotas, invitations, reservations

Revision ID: d8f4a2b6c1e3
Revises: c3a9e61f5d27
Create Date: 2026-12-02

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd8f4a2b6c1e3'
down_revision = 'c3a9e61f5d27'
branch_labels = None
depends_on = None

USER_COLUMNS = [
    sa.Column('is_admin', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('quota_bytes', sa.BigInteger(), nullable=True),
    sa.Column('quota_unlimited', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('max_upload_bytes', sa.BigInteger(), nullable=True),
]


def upgrade():
    # Plain ADD COLUMN on both databases (no batch copy of the users table).
    for column in USER_COLUMNS:
        op.add_column('users', column)
    op.create_table(
        'invitations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('note', sa.String(length=200), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('used_by_id', sa.Integer(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['used_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_table(
        'upload_reservations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('bytes', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(
        'ix_upload_reservations_user_expires', 'upload_reservations', ['user_id', 'expires_at']
    )


def downgrade():
    op.drop_index('ix_upload_reservations_user_expires', table_name='upload_reservations')
    op.drop_table('upload_reservations')
    op.drop_table('invitations')
    with op.batch_alter_table('users', schema=None) as batch_op:
        for column in reversed(USER_COLUMNS):
            batch_op.drop_column(column.name)
