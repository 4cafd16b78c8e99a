"""sms claims: which node holds an SMS being sent or a reply being applied, and until when

Adds ``sms_messages.claimed_by`` and ``sms_messages.lease_until``: on several nodes a row
in ``sending`` (or ``processing``) belongs to the node that claimed it until its lease
expires; then another node takes it over (docs/architecture.md, "Several nodes").

Revision ID: 0006_sms_claims
Revises: 0005_peril
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kernel.db

revision: str = "0006_sms_claims"
down_revision: str | Sequence[str] | None = "0005_peril"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sms_messages") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("lease_until", kernel.db.UTCDateTime(timezone=True),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sms_messages") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
