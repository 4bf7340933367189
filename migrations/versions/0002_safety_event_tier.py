"""Safety events say which tier was sent: the full crisis reply or a check-in question.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04

Existing rows were all full crisis replies, hence the server default.  Batch mode, because SQLite
can add a CHECK constraint only by copying the table (env.py turns batch mode on for SQLite).
"""

from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("safety_events") as batch:
        batch.add_column(sa.Column("tier", sa.String(16), nullable=False, server_default="crisis"))
        batch.create_check_constraint("ck_safety_events_tier", "tier IN ('crisis', 'check_in')")


def downgrade() -> None:
    with op.batch_alter_table("safety_events") as batch:
        batch.drop_constraint("ck_safety_events_tier", type_="check")
        batch.drop_column("tier")
