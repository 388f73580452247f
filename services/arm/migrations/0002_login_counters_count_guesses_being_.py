"""login counters count guesses being checked apart

A log-in reserves its guess before the password is checked and gives it back when the password was right
(shared.platform.auth, Throttle.guess): wrong guesses are limited, people logging in correctly from one address are not.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-08 01:50:35.360415
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_login_counters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("staff_login_counters", schema=None) as batch_op:
        batch_op.drop_column("pending")
