"""The FAQ's questions: outcome and nearest entry per question, text only when the therapist turns it on.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

Issue 15. The staff FAQ page counts what visitors asked that matched nothing (and which entry was
nearest), so the therapist knows which answers to write. `question_text` is NULL unless
HAVEN_FAQ_KEEP_QUESTIONS is on, and is cleared once older than HAVEN_RETAIN_CONVERSATIONS_DAYS
(haven/db/faq_questions.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "faq_questions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("entry_id", sa.String(40), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("question_text", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('answered', 'did_you_mean', 'unmatched')", name="ck_faq_questions_outcome"
        ),
    )
    op.create_index("ix_faq_questions_created_at", "faq_questions", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_faq_questions_created_at", table_name="faq_questions")
    op.drop_table("faq_questions")
