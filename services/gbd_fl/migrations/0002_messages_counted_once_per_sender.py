"""messages count once per sender, not once across all senders

Message ids are chosen by their senders; another sender's use of an id (by accident or on purpose) must
not pass for a replay of, or answer with the outcome of, the first sender's message. ``processed_messages`` are
keyed by (sender, message id); rows kept before get the sender "" (shared.platform.migrate, key_by_sender).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-08 02:20:00
"""

from collections.abc import Sequence

from shared.platform import migrate

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    migrate.key_by_sender("processed_messages")


def downgrade() -> None:
    migrate.key_by_message_id("processed_messages")
