"""A grade changed at calibration: the new grade, the original, who, when and why.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("appraisals", sa.Column("override", sa.JSON(), nullable=True))


LOGIN_INDEX = "ix_users_employee_no_lower"


def downgrade() -> None:
    # SQLite's batch mode reflects the tables appraisals refers to and cannot carry users'
    # index on an expression: drop it first and make it again afterwards.
    op.drop_index(LOGIN_INDEX, table_name="users")
    with op.batch_alter_table("appraisals", schema=None) as batch_op:
        batch_op.drop_column("override")
    op.create_index(LOGIN_INDEX, "users", [sa.text("lower(employee_no)")])
