"""share links: a hashed token, expiry, password, download limit and revocation per link

Revision ID: e5c2a7d9b318
Revises: d8f4a2b6c1e3
Create Date: 2026-12-02

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5c2a7d9b318'
down_revision = 'd8f4a2b6c1e3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'share_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('file_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('max_downloads', sa.Integer(), nullable=True),
        sa.Column('downloads', sa.Integer(), server_default='0', nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['file_id'], ['stored_files.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index('ix_share_links_owner_created', 'share_links', ['owner_id', 'created_at'])
    op.create_index('ix_share_links_file', 'share_links', ['file_id'])


def downgrade():
    op.drop_index('ix_share_links_file', table_name='share_links')
    op.drop_index('ix_share_links_owner_created', table_name='share_links')
    op.drop_table('share_links')
