"""An index from which the dashboards count a cycle's appraisals by department, state, grade
and policy, with their scores, deadlines and positions, without reading the rows.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_appraisals_cycle_dashboard",
        "appraisals",
        [
            "cycle_id",
            "department_id",
            "state",
            "grade",
            "policy_snapshot_id",
            "position_id",
            "score",
            "due_at",
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_appraisals_cycle_dashboard", table_name="appraisals")
