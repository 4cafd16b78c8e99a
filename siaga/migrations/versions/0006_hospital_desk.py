"""hospital desk: capabilities a hospital reports out of action, with a note and a time

Adds ``hospitals.capabilities_unavailable`` (a JSON list of capability tags, empty by
default), ``capabilities_note`` and ``capabilities_changed_at``.

Revision ID: 0006_hospital_desk
Revises: 0005_peril
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kernel.db

revision: str = "0006_hospital_desk"
down_revision: str | Sequence[str] | None = "0005_peril"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hospitals") as batch:
        batch.add_column(sa.Column("capabilities_unavailable", sa.JSON(), nullable=False,
                                   server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("capabilities_note", sa.String(length=200), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("capabilities_changed_at", kernel.db.UTCDateTime(timezone=True),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hospitals") as batch:
        batch.drop_column("capabilities_changed_at")
        batch.drop_column("capabilities_note")
        batch.drop_column("capabilities_unavailable")
