"""The time limits of Приложение 1, by service and channel, in one place for every service.

Portal channel (diagram 1, table 1): the АРМ processes a home call, an appointment or its cancellation
within 30 minutes, an attachment within one working day. Staff channel (diagram 2, table 2): the result
(process 8) within 10 minutes — but an attachment within one working day on this channel too (Приложение
3, table 2: an attachment is one working day whichever way it is filed). Time counts in the clinic's
working hours on working days: a request filed after hours counts from the opening of the next working
day.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from shared.rules.calendar import WorkingHours
from shared.wire.contracts import ServiceKind

Channel = Literal["portal", "staff"]
# п. 10 of each regulation: information and advice on the e-service by the call centre's phone number.
CONTACT_CENTRE = "1414"

PORTAL_PROCESSING: dict[ServiceKind, dt.timedelta] = {
    ServiceKind.HOME_CALL: dt.timedelta(minutes=30),
    ServiceKind.APPOINTMENT: dt.timedelta(minutes=30),
    ServiceKind.APPOINTMENT_CANCEL: dt.timedelta(minutes=30),
}
STAFF_RESULT = dt.timedelta(minutes=10)  # table 2, processes 7 and 8


def deadline(service: ServiceKind, channel: Channel, filed_at: dt.datetime, hours: WorkingHours) -> dt.datetime:
    """When the request must have its outcome."""
    if channel == "staff":
        if service is ServiceKind.ATTACHMENT:
            return hours.one_working_day(filed_at)
        return hours.add_working_time(filed_at, STAFF_RESULT)
    if service in PORTAL_PROCESSING:
        return hours.add_working_time(filed_at, PORTAL_PROCESSING[service])
    return hours.one_working_day(filed_at)


def deadline_text(service: ServiceKind) -> str:
    """How the catalogue states the time limit."""
    if service in PORTAL_PROCESSING:
        return f"{int(PORTAL_PROCESSING[service].total_seconds() // 60)} минут (рабочего времени поликлиники)"
    return "1 рабочий день"


# Приложение 1, table 1: the time limit of each step of diagram 1 (the upper bound where a range is given).
# These are the regulation's service levels: the one table the services time their steps against, the
# metrics' buckets include, and /service-levels reports.
PORTAL_STEPS: dict[str, tuple[str, dt.timedelta]] = {
    "process_1": ("Авторизация на ПЭП по ИИН и паролю", dt.timedelta(minutes=1)),
    "process_2": ("Отказ в авторизации: нарушения в данных получателя", dt.timedelta(seconds=30)),
    "process_3": ("Выбор услуги и формирование данных запроса", dt.timedelta(minutes=1, seconds=30)),
    "process_4": ("Отказ: нарушения в данных ЭЦП получателя", dt.timedelta(minutes=1, seconds=30)),
    "process_5": ("Подписание ЭЦП и направление запроса в АРМ", dt.timedelta(minutes=1)),
    "process_6": ("Регистрация документа в АРМ", dt.timedelta(minutes=1)),
    "process_7": ("Мотивированный отказ услугодателя", dt.timedelta(minutes=30)),
    "process_8": ("Получение результата услуги", dt.timedelta(minutes=30)),
}
# Приложение 1, table 2: the steps of diagram 2, at the АРМ (the clinic's decision, steps 7–8, within the
# same 30 minutes as table 1's; an attachment's whole deadline is one working day: PORTAL_PROCESSING).
ARM_STEPS: dict[str, tuple[str, dt.timedelta]] = {
    "step_1": ("Авторизация сотрудника на АРМ по ИИН и паролю", dt.timedelta(seconds=15)),
    "step_2": ("Выбор сотрудником услуги", dt.timedelta(seconds=10)),
    "step_3": ("Запрос данных получателя в ГБД ФЛ", dt.timedelta(minutes=1, seconds=30)),
    "step_4": ("Сообщение об отсутствии данных в ГБД ФЛ", dt.timedelta(seconds=15)),
    "step_5": ("Заполнение формы запроса и удостоверение ЭЦП", dt.timedelta(seconds=15)),
    "step_6": ("Регистрация документа", dt.timedelta(minutes=1, seconds=30)),
    "step_7": ("Мотивированный отказ", dt.timedelta(minutes=30)),
    "step_8": ("Формирование результата услуги", dt.timedelta(minutes=30)),
}
