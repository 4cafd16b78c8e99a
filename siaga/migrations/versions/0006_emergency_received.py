"""emergency received: when an emergency reached the server, apart from when it was raised

An officer's app keeps an emergency raised without a connection and sends it on reconnect
with the time it was raised (``emergency_raise.raised_at``). Adds ``emergencies.received_at``
and ``radio_alerts.received_at`` (NULL on older rows: there both times are the same), and
``radio_alerts.talkgroup_name`` (the name people read; NULL on older rows).

Revision ID: 0006_emergency_received
Revises: 0005_peril
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kernel.db

revision: str = "0006_emergency_received"
down_revision: str | Sequence[str] | None = "0005_peril"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("emergencies", "radio_alerts")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("received_at", kernel.db.UTCDateTime(timezone=True),
                                       nullable=True))
    with op.batch_alter_table("radio_alerts") as batch:
        batch.add_column(sa.Column("talkgroup_name", sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("radio_alerts") as batch:
        batch.drop_column("talkgroup_name")
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("received_at")
