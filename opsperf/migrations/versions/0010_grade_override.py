"""A grade changed at calibration: the new grade, the original, who, when and why; indexes
for the calibration board's counts and for a state's appraisals by score.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


TALLY = "ix_appraisals_cycle_state_tally"
BY_SCORE = "ix_appraisals_cycle_state_score"
TALLY_COLUMNS = ["cycle_id", "state", "department_id", "policy_snapshot_id", "grade", "bonus"]


def upgrade() -> None:
    op.add_column("appraisals", sa.Column("override", sa.JSON(), nullable=True))
    op.create_index(TALLY, "appraisals", TALLY_COLUMNS)
    op.create_index(BY_SCORE, "appraisals", ["cycle_id", "state", "score"])


LOGIN_INDEX = "ix_users_employee_no_lower"


def downgrade() -> None:
    # SQLite's batch mode reflects the tables appraisals refers to and cannot carry users'
    # index on an expression: drop it first and make it again afterwards.
    op.drop_index(LOGIN_INDEX, table_name="users")
    op.drop_index(TALLY, table_name="appraisals")
    op.drop_index(BY_SCORE, table_name="appraisals")
    with op.batch_alter_table("appraisals", schema=None) as batch_op:
        batch_op.drop_column("override")
    op.create_index(LOGIN_INDEX, "users", [sa.text("lower(employee_no)")])
