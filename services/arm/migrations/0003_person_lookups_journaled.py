"""look-ups of citizens in ГБД ФЛ journaled with the staff member and the reason

Diagram 2, processes 3–4 (services.arm.staff, StaffService.person): each look-up is recorded before ГБД ФЛ
is asked, as evidence the citizen can be shown.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08 01:54:55.109494
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.platform.db

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person_lookups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", shared.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("person_iin", sa.String(length=12), nullable=False),
        sa.Column("staff_iin", sa.String(length=12), nullable=False),
        sa.Column("clinic_bin", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("person_lookups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_lookups_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_lookups_person_iin"), ["person_iin"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("person_lookups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_lookups_person_iin"))
        batch_op.drop_index(batch_op.f("ix_person_lookups_at"))

    op.drop_table("person_lookups")
