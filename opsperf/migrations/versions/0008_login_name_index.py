"""Log-in by employee number without letter case: an index on lower(employee_no).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_users_employee_no_lower", "users", [sa.text("lower(employee_no)")])


def downgrade() -> None:
    op.drop_index("ix_users_employee_no_lower", table_name="users")
