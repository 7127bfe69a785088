"""pending_uploads: ids never handed out twice on SQLite (AUTOINCREMENT)

An ended upload's id must answer 404, not name a later upload: the page remembers
unfinished uploads by id to resume them. SQLite reuses the highest rowid once its row is
deleted unless the table is AUTOINCREMENT; PostgreSQL's sequence never reuses one.

Revision ID: b2e7c4d9a615
Revises: f1d2c3b4a5e6
Create Date: 2026-12-06

"""
import warnings

from alembic import op


# revision identifiers, used by Alembic.
revision = 'b2e7c4d9a615'
down_revision = 'f1d2c3b4a5e6'
branch_labels = None
depends_on = None


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # Reflecting the table reflects the folders it refers to, whose case-folded name index
    # SQLAlchemy cannot read back (and this rebuild leaves alone).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "(?s).*expression-based index")
        with op.batch_alter_table(
            "pending_uploads",
            recreate="always",
            table_kwargs={"sqlite_autoincrement": autoincrement},
        ):
            pass


def upgrade():
    _rebuild(True)


def downgrade():
    _rebuild(False)
