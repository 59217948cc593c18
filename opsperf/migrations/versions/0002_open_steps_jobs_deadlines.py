"""Open steps (task lists as an indexed lookup), background jobs, deadlines on appraisals.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_jobs_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_created_by", ["created_by_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_subject"), ["subject"], unique=False)

    op.create_table(
        "open_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appraisal_id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("entry_seq", sa.Integer(), nullable=False),
        sa.Column("excluded_user_id", sa.Integer(), nullable=True),
        sa.Column("excluded_requester_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["appraisal_id"], ["appraisals.id"], name=op.f("fk_open_steps_appraisal_id_appraisals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open_steps")),
    )
    with op.batch_alter_table("open_steps", schema=None) as batch_op:
        batch_op.create_index(
            "ix_open_steps_actor_due", ["actor", "due_at", "appraisal_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_open_steps_appraisal_id"), ["appraisal_id"], unique=False
        )

    with op.batch_alter_table("appraisals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_at", sa.DateTime(), nullable=True))
        batch_op.drop_index(batch_op.f("ix_appraisals_cycle_id"))
        batch_op.drop_index(batch_op.f("ix_appraisals_state"))
        batch_op.create_index(
            "ix_appraisals_cycle_department", ["cycle_id", "department_id"], unique=False
        )
        batch_op.create_index("ix_appraisals_cycle_due", ["cycle_id", "due_at"], unique=False)
        batch_op.create_index("ix_appraisals_cycle_order", ["cycle_id", "id"], unique=False)
        batch_op.create_index("ix_appraisals_cycle_score", ["cycle_id", "score"], unique=False)
        batch_op.create_index("ix_appraisals_cycle_state", ["cycle_id", "state"], unique=False)

    with op.batch_alter_table("cycles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("workflow_snapshot_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_cycles_workflow_snapshot_id_snapshots"),
            "snapshots",
            ["workflow_snapshot_id"],
            ["id"],
        )

    # Every appraisal of a cycle was launched on the same workflow snapshot.
    op.execute(
        "UPDATE cycles SET workflow_snapshot_id = (SELECT MIN(a.workflow_snapshot_id) "
        "FROM appraisals a WHERE a.cycle_id = cycles.id)"
    )
    # appraisals.due_at and open_steps are derived data: `opsperf db upgrade` rebuilds them
    # (opsperf.services.steps.rebuild_if_stale) once the schema is at head.


def downgrade() -> None:
    with op.batch_alter_table("cycles", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_cycles_workflow_snapshot_id_snapshots"), type_="foreignkey"
        )
        batch_op.drop_column("workflow_snapshot_id")

    with op.batch_alter_table("appraisals", schema=None) as batch_op:
        batch_op.drop_index("ix_appraisals_cycle_score")
        batch_op.drop_index("ix_appraisals_cycle_order")
        batch_op.drop_index("ix_appraisals_cycle_due")
        batch_op.drop_index("ix_appraisals_cycle_state")
        batch_op.drop_index("ix_appraisals_cycle_department")
        batch_op.create_index(batch_op.f("ix_appraisals_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_appraisals_cycle_id"), ["cycle_id"], unique=False)
        batch_op.drop_column("due_at")

    with op.batch_alter_table("open_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_open_steps_appraisal_id"))
        batch_op.drop_index("ix_open_steps_actor_due")

    op.drop_table("open_steps")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_subject"))
        batch_op.drop_index("ix_jobs_created_by")

    op.drop_table("jobs")
    op.drop_table("settings")
