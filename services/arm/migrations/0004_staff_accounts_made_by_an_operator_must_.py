"""staff accounts made by an operator must change their password

services.arm.admin makes a clinic's first head (and resets passwords); such an account must choose its own
password at its first log-in.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 01:56:49.769983
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("must_change_password", sa.Boolean(), server_default=sa.text("(false)"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
