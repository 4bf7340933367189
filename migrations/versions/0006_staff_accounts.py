"""Staff accounts: the therapist's password hash, server-side sessions and a sign-in log (issue 12.1).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05

- `staff_accounts`: one row per account (today only the therapist's), the argon2id hash and the
  lockout state (failures since the last lockout, how many lockouts in a row, locked until when).
- `staff_sessions`: a browser's sign-in, keyed by the SHA-256 of its random cookie value, so a copy
  of the database does not hold usable cookies; deleting the row ends the session.
- `staff_signins`: when, which username, the result and the client address; never the password.
  Kept 90 days (haven/ops/retention.py).
"""

from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_accounts",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("lockouts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_staff_sessions_username", "staff_sessions", ["username"])
    op.create_table(
        "staff_signins",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
    )
    op.create_index("ix_staff_signins_created_at", "staff_signins", ["created_at"])
    op.create_index("ix_staff_signins_client", "staff_signins", ["client", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_staff_signins_client", table_name="staff_signins")
    op.drop_index("ix_staff_signins_created_at", table_name="staff_signins")
    op.drop_table("staff_signins")
    op.drop_index("ix_staff_sessions_username", table_name="staff_sessions")
    op.drop_table("staff_sessions")
    op.drop_table("staff_accounts")
