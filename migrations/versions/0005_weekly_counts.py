"""Weekly counts for the therapist's insights: topics answered, "Did you mean", could not answer.

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-04

Counts only, never a visitor's words: one row per (week, metric, key) with a number, incremented by
the action server where the event happens (haven/db/counts.py).  `week_start` is the Monday of the
week in the therapist's time zone (HAVEN_TIMEZONE).  Bookings, hand-offs and safety events are not
counted here: they are rows of their own tables already.
"""

from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "weekly_counts",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("week_start", "metric", "key", name="pk_weekly_counts"),
        sa.CheckConstraint("count >= 0", name="ck_weekly_counts_count"),
    )


def downgrade() -> None:
    op.drop_table("weekly_counts")
