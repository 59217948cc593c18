"""Expressions that failed at run time with every input present, for the Definitions page.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "expression_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("definition", sa.String(length=200), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("expression", sa.String(length=2000), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expression_failures")),
        sa.UniqueConstraint(
            "definition",
            "location",
            "expression",
            name=op.f("uq_expression_failures_definition_location_expression"),
        ),
    )
    with op.batch_alter_table("expression_failures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_expression_failures_last_at"), ["last_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("expression_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expression_failures_last_at"))
    op.drop_table("expression_failures")
