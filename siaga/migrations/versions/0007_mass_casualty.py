"""mass casualty: how many of the incident's patients each assignment carries

Merges the 0006 heads. Adds ``assignments.patients``. An assignment made before it carried
the whole incident (there was one count per incident), so live assignments take the
incident's count and cancelled ones 0 (dispatch.casualty, rule 1).

Revision ID: 0007_mass_casualty
Revises: 0006_crew, 0006_emergency_received, 0006_hospital_desk, 0006_sms_claims
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_mass_casualty"
down_revision: str | Sequence[str] | None = (
    "0006_crew", "0006_emergency_received", "0006_hospital_desk", "0006_sms_claims",
)
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
