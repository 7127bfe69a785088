"""folder share links: share_links.folder_id, and file_id or folder_id (exactly one)

Revision ID: a7e4f2c9d1b6
Revises: f3b9c1d7e2a4
Create Date: 2026-12-03

"""
import warnings
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7e4f2c9d1b6'
down_revision = 'f3b9c1d7e2a4'
branch_labels = None
depends_on = None


@contextmanager
def _share_links_batch():
    """Batch-alter share_links; SQLite's reflection of the tables it refers to skips their
    expression indexes with a warning (they are not touched)."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', '(?s).*expression-based index')
        with op.batch_alter_table('share_links') as batch:
            yield batch


def upgrade():
    with _share_links_batch() as batch:
        batch.add_column(sa.Column('folder_id', sa.Integer(), nullable=True))
        batch.alter_column('file_id', existing_type=sa.Integer(), nullable=True)
        batch.create_foreign_key(
            'fk_share_links_folder_id_folders', 'folders', ['folder_id'], ['id'],
            ondelete='CASCADE',
        )
        batch.create_index('ix_share_links_folder', ['folder_id'])
        batch.create_check_constraint(
            'ck_share_links_one_target', '(file_id IS NULL) <> (folder_id IS NULL)'
        )


def downgrade():
    op.execute('DELETE FROM share_links WHERE folder_id IS NOT NULL')  # links to folders only
    with _share_links_batch() as batch:
        batch.drop_constraint('ck_share_links_one_target', type_='check')
        batch.drop_index('ix_share_links_folder')
        batch.drop_constraint('fk_share_links_folder_id_folders', type_='foreignkey')
        batch.alter_column('file_id', existing_type=sa.Integer(), nullable=False)
        batch.drop_column('folder_id')
