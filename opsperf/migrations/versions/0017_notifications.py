"""Notifications, the e-mail outbox and the scheduler's marks; a person's e-mail choice.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

LOGIN_INDEX = "ix_users_employee_no_lower"


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column(
            "email_notifications", sa.String(length=16), server_default="immediate", nullable=False
        ),
    )
    op.create_index("ix_appraisals_due", "appraisals", ["due_at"])
    op.create_index("ix_appraisals_entered", "appraisals", ["state_entered_at"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("appraisal_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("message", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("anchor", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.Column("mail", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["appraisal_id"], ["appraisals.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notifications_user_read", "notifications", ["user_id", "read_at", "id"])
    op.create_index("ix_notifications_user_id", "notifications", ["user_id", "id"])
    op.create_index("ix_notifications_mail_user", "notifications", ["mail", "user_id"])
    op.create_table(
        "emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("notification_ids", sa.JSON(), nullable=False),
        sa.Column("digest", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("to_addr", sa.String(length=200), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_emails_status_next", "emails", ["status", "next_try_at"])
    op.create_index("ix_emails_user_id", "emails", ["user_id"])
    op.create_table(
        "schedule_marks",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("schedule_marks")
    op.drop_index("ix_emails_user_id", table_name="emails")
    op.drop_index("ix_emails_status_next", table_name="emails")
    op.drop_table("emails")
    op.drop_index("ix_notifications_mail_user", table_name="notifications")
    op.drop_index("ix_notifications_user_id", table_name="notifications")
    op.drop_index("ix_notifications_user_read", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_appraisals_entered", table_name="appraisals")
    op.drop_index("ix_appraisals_due", table_name="appraisals")
    # SQLite rebuilds the table to drop a column and cannot carry the index on an expression
    op.drop_index(LOGIN_INDEX, table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email_notifications")
    op.create_index(LOGIN_INDEX, "users", [sa.text("lower(employee_no)")])
