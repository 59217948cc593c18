"""Person attributes (monthly salary, quota, level…) declared in YAML, kept per person.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


LOGIN_INDEX = "ix_users_employee_no_lower"


def upgrade() -> None:
    op.add_column("users", sa.Column("attributes", sa.JSON(), nullable=True))


def downgrade() -> None:
    # SQLite's batch mode copies the table and cannot carry an index on an expression: drop
    # the log-in index first and make it again afterwards.
    op.drop_index(LOGIN_INDEX, table_name="users")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("attributes")
    op.create_index(LOGIN_INDEX, "users", [sa.text("lower(employee_no)")])
