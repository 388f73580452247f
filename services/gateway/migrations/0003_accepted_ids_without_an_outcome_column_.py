"""accepted ids without an outcome column (the journal says what became of each)

The outcome was written twice per message (the journal row, then this column, in one transaction); the
journal alone now says whether an accepted message's delivery finished (services.gateway.journal).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 14:10:38.529913
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accepted_messages", schema=None) as batch_op:
        batch_op.drop_column("outcome")


def downgrade() -> None:
    with op.batch_alter_table("accepted_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.VARCHAR(length=40), nullable=True))
    # Filled back from the journal, so that the older code still knows which deliveries finished.
    op.execute(
        # the outcomes journaled only for a message the gateway accepted (services.gateway.journal)
        "UPDATE accepted_messages SET outcome = (SELECT journal.outcome FROM journal"
        " WHERE journal.message_id = accepted_messages.message_id AND journal.outcome IN"
        " ('delivered', 'replied', 'refused:TIMEOUT', 'refused:ROUTE_UNKNOWN', 'refused:INTERNAL')"
        " ORDER BY journal.seq LIMIT 1)"
    )
