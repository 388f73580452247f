"""registration challenges signed with ЭЦП

Registration is proven by the person's own key over a challenge of the portal's (services.portal.service,
register); each challenge is kept until it is used or expires.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 23:18:10.110048
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.platform.db

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "challenges",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("expires_at", shared.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", shared.platform.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("nonce"),
    )
    with op.batch_alter_table("challenges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_challenges_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_challenges_expires_at"))

    op.drop_table("challenges")
