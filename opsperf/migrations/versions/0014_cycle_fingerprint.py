"""An index from which a cycle's appraisals are counted, their versions summed and the newest
write found without reading the rows.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_appraisals_cycle_fingerprint",
        "appraisals",
        ["cycle_id", "version", "updated_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_appraisals_cycle_fingerprint", table_name="appraisals")
