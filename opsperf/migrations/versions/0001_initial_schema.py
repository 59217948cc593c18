"""The schema as it was before migrations: people, snapshots, cycles, appraisals, votes, events.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("def_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshots")),
        sa.UniqueConstraint(
            "kind", "def_id", "content_hash", name=op.f("uq_snapshots_kind_def_id_content_hash")
        ),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_no", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=True),
        sa.Column("position_id", sa.String(length=64), nullable=True),
        sa.Column("manager_id", sa.Integer(), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("base_bonus", sa.Double(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["manager_id"], ["users.id"], name=op.f("fk_users_manager_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("employee_no", name=op.f("uq_users_employee_no")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_department_id"), ["department_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_users_manager_id"), ["manager_id"], unique=False)

    op.create_table(
        "cycles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("workflow_id", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_cycles_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cycles")),
    )
    op.create_table(
        "appraisals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("position_id", sa.String(length=64), nullable=False),
        sa.Column("form_snapshot_id", sa.Integer(), nullable=False),
        sa.Column("workflow_snapshot_id", sa.Integer(), nullable=False),
        sa.Column("policy_snapshot_id", sa.Integer(), nullable=True),
        sa.Column("department_snapshot_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=128), nullable=False),
        sa.Column("state_entered_at", sa.DateTime(), nullable=False),
        sa.Column("entry_seq", sa.Integer(), nullable=False),
        sa.Column("pending_trigger", sa.String(length=64), nullable=True),
        sa.Column("pending_by_id", sa.Integer(), nullable=True),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("grade", sa.String(length=16), nullable=True),
        sa.Column("bonus", sa.Double(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycles.id"], name=op.f("fk_appraisals_cycle_id_cycles")
        ),
        sa.ForeignKeyConstraint(
            ["department_snapshot_id"],
            ["snapshots.id"],
            name=op.f("fk_appraisals_department_snapshot_id_snapshots"),
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["users.id"], name=op.f("fk_appraisals_employee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["form_snapshot_id"],
            ["snapshots.id"],
            name=op.f("fk_appraisals_form_snapshot_id_snapshots"),
        ),
        sa.ForeignKeyConstraint(
            ["manager_id"], ["users.id"], name=op.f("fk_appraisals_manager_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["pending_by_id"], ["users.id"], name=op.f("fk_appraisals_pending_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["policy_snapshot_id"],
            ["snapshots.id"],
            name=op.f("fk_appraisals_policy_snapshot_id_snapshots"),
        ),
        sa.ForeignKeyConstraint(
            ["workflow_snapshot_id"],
            ["snapshots.id"],
            name=op.f("fk_appraisals_workflow_snapshot_id_snapshots"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appraisals")),
        sa.UniqueConstraint(
            "cycle_id", "employee_id", name=op.f("uq_appraisals_cycle_id_employee_id")
        ),
    )
    with op.batch_alter_table("appraisals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appraisals_cycle_id"), ["cycle_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_appraisals_department_id"), ["department_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_appraisals_employee_id"), ["employee_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_appraisals_manager_id"), ["manager_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_appraisals_state"), ["state"], unique=False)

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appraisal_id", sa.Integer(), nullable=True),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=True),
        sa.Column("from_state", sa.String(length=128), nullable=True),
        sa.Column("to_state", sa.String(length=128), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_events_actor_id_users")),
        sa.ForeignKeyConstraint(
            ["appraisal_id"], ["appraisals.id"], name=op.f("fk_events_appraisal_id_appraisals")
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycles.id"], name=op.f("fk_events_cycle_id_cycles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_appraisal_at", ["appraisal_id", "id"], unique=False)

    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appraisal_id", sa.Integer(), nullable=False),
        sa.Column("entry_seq", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appraisal_id"], ["appraisals.id"], name=op.f("fk_votes_appraisal_id_appraisals")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_votes_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_votes")),
        sa.UniqueConstraint(
            "appraisal_id",
            "entry_seq",
            "trigger",
            "user_id",
            name=op.f("uq_votes_appraisal_id_entry_seq_trigger_user_id"),
        ),
    )
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_votes_appraisal_id"), ["appraisal_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_votes_appraisal_id"))

    op.drop_table("votes")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_appraisal_at")

    op.drop_table("events")
    with op.batch_alter_table("appraisals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appraisals_state"))
        batch_op.drop_index(batch_op.f("ix_appraisals_manager_id"))
        batch_op.drop_index(batch_op.f("ix_appraisals_employee_id"))
        batch_op.drop_index(batch_op.f("ix_appraisals_department_id"))
        batch_op.drop_index(batch_op.f("ix_appraisals_cycle_id"))

    op.drop_table("appraisals")
    op.drop_table("cycles")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_manager_id"))
        batch_op.drop_index(batch_op.f("ix_users_department_id"))

    op.drop_table("users")
    op.drop_table("snapshots")
