"""mass casualty: how many of the incident's patients each assignment carries

On top of 0007_clinical. Adds ``assignments.patients``. An assignment made before it carried
the whole incident (there was one count per incident), so live assignments take the
incident's count and cancelled ones 0 (dispatch.casualty, rule 1).

Revision ID: 0008_mass_casualty
Revises: 0007_clinical
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_mass_casualty"
down_revision: str | Sequence[str] | None = "0007_clinical"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("patients", sa.Integer(), nullable=False,
                                   server_default="1"))
    op.execute(
        "UPDATE assignments SET patients = CASE WHEN status = 'CANCELLED' THEN 0 ELSE "
        "(SELECT incidents.patients FROM incidents WHERE incidents.id = assignments.incident_id)"
        " END"
    )


def downgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("patients")
