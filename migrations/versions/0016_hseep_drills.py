"""drills: HSEEP names and several evaluators per objective (issue 16)

- The SMS/voice call-down mode is an HSEEP *drill*: existing drills with mode 'functional' become 'drill'
  (the API still accepts 'functional' as its old name).
- Each evaluator keeps their own observation of an objective: the unique key of drill_evaluations becomes
  (drill_id, objective, evaluator_id). Existing evaluations are kept as they are.

Revision ID: 0016_hseep_drills
Revises: 0015_meetings
"""
from __future__ import annotations

from alembic import op

revision = "0016_hseep_drills"
down_revision = "0015_meetings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE drills SET mode = 'drill' WHERE mode = 'functional'")
    with op.batch_alter_table("drill_evaluations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_drill_evaluations_drill_id_objective"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_drill_evaluations_drill_id_objective_evaluator_id"),
                                          ["drill_id", "objective", "evaluator_id"])


def downgrade() -> None:
    # keep the first observation of each objective (the old rule allowed one)
    op.execute("DELETE FROM drill_evaluations WHERE id NOT IN "
               "(SELECT MIN(id) FROM drill_evaluations GROUP BY drill_id, objective)")
    with op.batch_alter_table("drill_evaluations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_drill_evaluations_drill_id_objective_evaluator_id"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_drill_evaluations_drill_id_objective"),
                                          ["drill_id", "objective"])
    op.execute("UPDATE drills SET mode = 'functional' WHERE mode = 'drill'")
