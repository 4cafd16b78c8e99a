"""peril: which agencies' officers may claim imminent peril on a talkgroup

Adds ``talkgroups.peril_agencies`` (a JSON list, empty by default: then only dispatchers
and supervisors may ask for the floor as imminent peril).

Revision ID: 0005_peril
Revises: 0004_sms
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_peril"
down_revision: str | Sequence[str] | None = "0004_sms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("talkgroups") as batch:
        batch.add_column(sa.Column("peril_agencies", sa.JSON(), nullable=False,
                                   server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("talkgroups") as batch:
        batch.drop_column("peril_agencies")
