"""Follow-up actions a final grade calls for, tracked with an owner, a due date and a status.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appraisal_id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("action_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.JSON(), nullable=True),
        sa.Column("owner_role", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["appraisal_id"], ["appraisals.id"]),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"]),
        sa.ForeignKeyConstraint(["employee_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["closed_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("appraisal_id", "action_id"),
    )
    op.create_index(
        "ix_follow_ups_owner_status_due", "follow_ups", ["owner_id", "status", "due_on"]
    )
    op.create_index("ix_follow_ups_status_due", "follow_ups", ["status", "due_on"])
    op.create_index("ix_follow_ups_employee_status", "follow_ups", ["employee_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_follow_ups_employee_status", table_name="follow_ups")
    op.drop_index("ix_follow_ups_status_due", table_name="follow_ups")
    op.drop_index("ix_follow_ups_owner_status_due", table_name="follow_ups")
    op.drop_table("follow_ups")
