"""crew: closing the loop with ambulance crews and the triage queue

Adds ``units.out_of_service_by`` (who holds an OUT_OF_SERVICE, so a crew's reply cannot undo
the dispatch room's decision), ``assignments.cancelled_by`` (named in the crew's notice and
in the answer to a late reply), ``incidents.landmark`` (sent to the crew before the notes)
and ``incidents.overdue_at`` (when the console was alarmed that no unit was sent in time).

Revision ID: 0006_crew
Revises: 0005_peril
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kernel.db

revision: str = "0006_crew"
down_revision: str | Sequence[str] | None = "0005_peril"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("out_of_service_by", sa.String(12), nullable=True))
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("cancelled_by", sa.String(64), nullable=True))
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("landmark", sa.String(200), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("overdue_at", kernel.db.UTCDateTime(timezone=True),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("overdue_at")
        batch.drop_column("landmark")
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("cancelled_by")
    with op.batch_alter_table("units") as batch:
        batch.drop_column("out_of_service_by")
