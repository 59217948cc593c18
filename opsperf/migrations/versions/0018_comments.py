"""Comments on appraisals and their KPI rows: threads, replies, mentions, private notes.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appraisal_id", sa.Integer(), nullable=False),
        sa.Column("kpi", sa.String(length=130), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("mentions", sa.JSON(), nullable=False),
        sa.Column("addressed_to", sa.JSON(), nullable=True),
        sa.Column("trigger", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["appraisal_id"], ["appraisals.id"]),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["parent_id"], ["comments.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_comments_appraisal_threads",
        "comments",
        ["appraisal_id", "kpi", "parent_id", "id"],
    )
    op.create_index("ix_comments_parent", "comments", ["parent_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_comments_parent", table_name="comments")
    op.drop_index("ix_comments_appraisal_threads", table_name="comments")
    op.drop_table("comments")
