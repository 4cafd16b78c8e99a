"""clinical intake: the patient's age, cardiac arrest, coordinates contradicting the kelurahan

Merges the heads of 0006 and adds to ``incidents``: ``patient_age`` and ``patient_age_unit``
(days, months or years, as the caller said it), ``cardiac_arrest`` (false by default) and
``location_mismatch`` (JSON: the kelurahan whose centre the coordinates are nearest, the
distances and the text shown at intake; NULL when they agree).

Revision ID: 0007_clinical
Revises: 0006_crew, 0006_emergency_received, 0006_hospital_desk, 0006_sms_claims
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_clinical"
down_revision: str | Sequence[str] | None = (
    "0006_crew", "0006_emergency_received", "0006_hospital_desk", "0006_sms_claims")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("patient_age", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("patient_age_unit", sa.String(length=6), nullable=True))
        batch.add_column(sa.Column("cardiac_arrest", sa.Boolean(), nullable=False,
                                   server_default=sa.text("false")))
        batch.add_column(sa.Column("location_mismatch", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("location_mismatch")
        batch.drop_column("cardiac_arrest")
        batch.drop_column("patient_age_unit")
        batch.drop_column("patient_age")
