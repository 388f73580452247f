"""a signed request counts once per citizen, not once across all citizens

``requests.document_nonce`` now holds SignedRequest.once_key — SHA-256 of the citizen's ИИН and the
document's nonce — instead of the bare nonce: a one-step request's nonce is the client's choice, and
another citizen's use of the same nonce must not refuse it as a duplicate. Existing rows are rewritten.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 02:40:00
"""

from collections.abc import Sequence

from shared.platform import migrate

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    migrate.nonces_within_citizens("requests")


def downgrade() -> None:
    raise NotImplementedError("the bare nonces are not kept: restore from a backup to go back")
