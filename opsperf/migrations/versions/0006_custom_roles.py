"""Role scopes: each appraisal pins the custom roles that count on it at launch.

Appraisals launched before keep NULL and count the roles their own department declares; the
open steps are rebuilt under the new rules (``opsperf db upgrade``).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("appraisals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("custom_roles", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("appraisals", schema=None) as batch_op:
        batch_op.drop_column("custom_roles")
