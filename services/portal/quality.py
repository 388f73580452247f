"""Приложение 3 of the regulation: the questionnaire on quality and accessibility a citizen answers once
per request after its outcome, and its indicators per service."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from services.portal import security
from services.portal.models import Citizen, Request, SurveyAnswer
from shared.platform.db import Database
from shared.rules.errors import Conflict
from shared.wire.clock import Clock
from shared.wire.contracts import DECIDED_STATUSES, ServiceKind


class Quality:
    """The questionnaire's answers and the indicators drawn from them."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock

    async def answer_survey(self, citizen: Citizen, request_id: str, process_and_result: int, information: int) -> None:
        """Once per request, after its outcome (completed or refused)."""
        try:
            async with self.db.transaction() as session:
                request = await security.own(session, citizen, request_id)
                if request.status not in DECIDED_STATUSES:
                    raise Conflict("NOT_FINISHED", "the questionnaire opens once the request has its outcome")
                session.add(
                    SurveyAnswer(
                        request_id=request.id,
                        service=request.service,
                        process_and_result=process_and_result,
                        information=information,
                        answered_at=self.clock.now(),
                    )
                )
        except IntegrityError:
            raise Conflict("SURVEY_ANSWERED", "this request's questionnaire was already answered") from None

    async def indicators(self, service: ServiceKind) -> dict[str, Any]:
        """Counts per answer, aggregated in the database (never every answer loaded)."""
        async with self.db.sessions() as session:
            counts: dict[str, dict[str, int]] = {"process_and_result": {}, "information": {}}
            for name, column in (
                ("process_and_result", SurveyAnswer.process_and_result),
                ("information", SurveyAnswer.information),
            ):
                rows = await session.execute(
                    select(column, func.count()).where(SurveyAnswer.service == service.value).group_by(column)
                )
                counts[name] = {str(value): int(n) for value, n in rows.all()}
            overdue = await session.scalar(
                select(func.count())
                .select_from(Request)
                .where(Request.service == service.value, Request.overdue_at.is_not(None))
            )
        first = {str(v): counts["process_and_result"].get(str(v), 0) for v in (1, 2, 3)}
        second = {str(v): counts["information"].get(str(v), 0) for v in (1, 2, 3)}
        answers = sum(first.values())
        return {
            "service": service,
            "overdue": overdue or 0,
            "answers": answers,
            "process_and_result": first,
            "information": second,
            "satisfied_share": round(first["3"] / answers, 3) if answers else None,
        }
