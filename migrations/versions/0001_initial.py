"""Initial schema: bookings, hand-off requests, safety events.

Revision ID: 0001
Revises:
Create Date: 2024-11-24

Hand-written so it reads the same on SQLite and PostgreSQL.  The partial unique index on
bookings.slot_start (ignoring cancelled bookings) is what makes double booking impossible.
"""

from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reference", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("contact_method", sa.String(10), nullable=False),
        sa.Column("contact", sa.String(254), nullable=False),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("time_preference", sa.String(200), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("consent", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("reference", name="uq_bookings_reference"),
        sa.CheckConstraint("contact_method IN ('email', 'phone')", name="ck_bookings_contact_method"),
        sa.CheckConstraint("status IN ('requested', 'confirmed', 'cancelled')", name="ck_bookings_status"),
        sa.CheckConstraint("consent", name="ck_bookings_consent"),
        sa.CheckConstraint("slot_start IS NOT NULL OR time_preference IS NOT NULL", name="ck_bookings_when"),
    )
    op.create_index("ix_bookings_created_at", "bookings", ["created_at"])
    op.create_index(
        "uq_bookings_active_slot",
        "bookings",
        ["slot_start"],
        unique=True,
        sqlite_where=sa.text("status != 'cancelled'"),
        postgresql_where=sa.text("status != 'cancelled'"),
    )

    op.create_table(
        "handoff_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reference", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("contact_method", sa.String(10), nullable=False),
        sa.Column("contact", sa.String(254), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.Column("transcript_consent", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("reference", name="uq_handoff_requests_reference"),
        sa.CheckConstraint("contact_method IN ('email', 'phone')", name="ck_handoff_requests_contact_method"),
        sa.CheckConstraint(
            "transcript IS NULL OR transcript_consent", name="ck_handoff_requests_transcript_consent"
        ),
    )
    op.create_index("ix_handoff_requests_created_at", "handoff_requests", ["created_at"])

    op.create_table(
        "safety_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=True),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(8), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("message_text", sa.Text(), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("category IN ('suicide', 'self_harm', 'danger')", name="ck_safety_events_category"),
        sa.CheckConstraint("subject IN ('self', 'other')", name="ck_safety_events_subject"),
    )
    op.create_index("ix_safety_events_created_at", "safety_events", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_safety_events_created_at", table_name="safety_events")
    op.drop_table("safety_events")
    op.drop_index("ix_handoff_requests_created_at", table_name="handoff_requests")
    op.drop_table("handoff_requests")
    op.drop_index("uq_bookings_active_slot", table_name="bookings")
    op.drop_index("ix_bookings_created_at", table_name="bookings")
    op.drop_table("bookings")
