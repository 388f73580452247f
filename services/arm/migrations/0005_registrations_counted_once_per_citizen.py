"""a signed request counts once per citizen, not once across all citizens

``registrations.document_nonce`` now holds SignedRequest.once_key — SHA-256 of the citizen's ИИН and the
document's nonce — instead of the bare nonce (see the portal's revision 0004). Existing rows are rewritten.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 02:40:00
"""

from collections.abc import Sequence

from shared.platform import migrate

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    migrate.nonces_within_citizens("registrations")


def downgrade() -> None:
    raise NotImplementedError("the bare nonces are not kept: restore from a backup to go back")
