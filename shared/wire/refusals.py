"""Refusal codes: the one list of every coded, motivated refusal in the mesh.

Each code has a citizen-facing text (Russian, as the portal shows it) and the rule it comes from, so that
a refusal is always "motivated" as the regulation requires (п. 2: refusal only with a reason).
"""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    AUTH_FAILED = "AUTH_FAILED"
    IIN_INVALID = "IIN_INVALID"
    BIN_INVALID = "BIN_INVALID"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    CERT_EXPIRED = "CERT_EXPIRED"
    CERT_NOT_YET_VALID = "CERT_NOT_YET_VALID"
    CERT_REVOKED = "CERT_REVOKED"
    CERT_UNTRUSTED = "CERT_UNTRUSTED"
    CERT_STATUS_UNKNOWN = "CERT_STATUS_UNKNOWN"
    CERT_WRONG_USAGE = "CERT_WRONG_USAGE"
    CERT_UNSUPPORTED_ALGORITHM = "CERT_UNSUPPORTED_ALGORITHM"
    IIN_MISMATCH = "IIN_MISMATCH"
    BIN_MISMATCH = "BIN_MISMATCH"
    PERSON_NOT_FOUND = "PERSON_NOT_FOUND"
    PERSON_DECEASED = "PERSON_DECEASED"
    NOT_ATTACHED = "NOT_ATTACHED"
    AFTER_CUTOFF = "AFTER_CUTOFF"
    CLINIC_CLOSED = "CLINIC_CLOSED"
    SLOT_TAKEN = "SLOT_TAKEN"
    SLOT_IN_PAST = "SLOT_IN_PAST"
    ALREADY_ATTACHED = "ALREADY_ATTACHED"
    CHANGE_LIMIT = "CHANGE_LIMIT"
    NO_CONTRACT = "NO_CONTRACT"
    NO_CAPACITY = "NO_CAPACITY"
    DUPLICATE_REQUEST = "DUPLICATE_REQUEST"
    NOT_GUARDIAN = "NOT_GUARDIAN"
    NO_SUCH_SLOT = "NO_SUCH_SLOT"
    NO_SUCH_BOOKING = "NO_SUCH_BOOKING"
    ONE_BOOKING_PER_DAY = "ONE_BOOKING_PER_DAY"
    DOCTOR_NOT_FOR_PATIENT = "DOCTOR_NOT_FOR_PATIENT"
    CERT_NOT_STAFF = "CERT_NOT_STAFF"
    NO_SIGNING_RIGHT = "NO_SIGNING_RIGHT"
    # Gateway (ШЭП) refusals of a message rather than of a citizen's request.
    ROUTE_UNKNOWN = "ROUTE_UNKNOWN"
    ACCESS_DENIED = "ACCESS_DENIED"
    EXPIRED = "EXPIRED"
    REPLAYED = "REPLAYED"
    MALFORMED = "MALFORMED"
    TIMEOUT = "TIMEOUT"
    INTERNAL = "INTERNAL"


REFUSAL_TEXTS: dict[Refusal, tuple[str, str]] = {
    Refusal.AUTH_FAILED: ("Неверный ИИН или пароль.", "regulation, table 1, process 2"),
    Refusal.IIN_INVALID: ("ИИН указан неверно.", "ИИН format and check digit"),
    Refusal.BIN_INVALID: ("БИН указан неверно.", "БИН format and check digit"),
    Refusal.SIGNATURE_INVALID: ("Подпись недействительна: документ изменён или подписан неверно.", "condition 2"),
    Refusal.CERT_EXPIRED: ("Срок действия регистрационного свидетельства ЭЦП истёк.", "condition 2"),
    Refusal.CERT_NOT_YET_VALID: ("Регистрационное свидетельство ЭЦП ещё не действует.", "condition 2"),
    Refusal.CERT_REVOKED: ("Регистрационное свидетельство ЭЦП отозвано.", "condition 2"),
    Refusal.CERT_UNTRUSTED: ("Свидетельство ЭЦП выдано недоверенным удостоверяющим центром.", "condition 2"),
    Refusal.CERT_STATUS_UNKNOWN: (
        "Статус свидетельства ЭЦП не удалось проверить, повторите позже.",
        "condition 2, fail closed",
    ),
    Refusal.CERT_WRONG_USAGE: (
        "Для подписи использован ключ аутентификации (AUTH), нужен ключ RSA/GOST подписи.",
        "condition 2, key usage",
    ),
    Refusal.CERT_UNSUPPORTED_ALGORITHM: (
        "Алгоритм ключа или подписи не поддерживается: используйте ключ RSA или ГОСТ 34.10-2015 НУЦ РК.",
        "condition 2, algorithm",
    ),
    Refusal.IIN_MISMATCH: ("ИИН в запросе не совпадает с ИИН в свидетельстве ЭЦП.", "condition 2"),
    Refusal.BIN_MISMATCH: ("БИН организации не совпадает с БИН в свидетельстве ЭЦП.", "result signature"),
    Refusal.PERSON_NOT_FOUND: ("Сведения о физическом лице не найдены в ГБД ФЛ.", "table 2, process 3"),
    Refusal.PERSON_DECEASED: ("По данным ГБД ФЛ лицо числится умершим.", "ГБД ФЛ"),
    Refusal.NOT_ATTACHED: ("Вы не прикреплены к этой медицинской организации.", "condition 3"),
    Refusal.AFTER_CUTOFF: (
        "Вызов принимается не позднее чем за 2 часа до окончания работы поликлиники; обратитесь завтра или "
        "в службу скорой помощи (103) при неотложном состоянии.",
        "home call cut-off",
    ),
    Refusal.CLINIC_CLOSED: ("Поликлиника сегодня не работает.", "working hours"),
    Refusal.SLOT_TAKEN: ("Выбранное время уже занято, выберите другое.", "one booking per slot"),
    Refusal.SLOT_IN_PAST: ("Нельзя записаться на прошедшее время.", "appointment rules"),
    Refusal.ALREADY_ATTACHED: ("Вы уже прикреплены к этой медицинской организации.", "attachment rules"),
    Refusal.CHANGE_LIMIT: ("Прикрепление можно менять не чаще одного раза в год.", "attachment rules"),
    Refusal.NO_CONTRACT: ("У медицинской организации нет договора с ФСМС.", "attachment rules"),
    Refusal.NO_CAPACITY: ("Медицинская организация не принимает новых пациентов.", "attachment rules"),
    Refusal.DUPLICATE_REQUEST: ("Такой запрос уже подан.", "idempotency"),
    Refusal.NOT_GUARDIAN: (
        "Заявитель не является родителем (законным представителем) несовершеннолетнего по данным ГБД ФЛ.",
        "attachment of minors",
    ),
    Refusal.NO_SUCH_SLOT: ("Такого времени приёма нет в расписании врача.", "schedule"),
    Refusal.NO_SUCH_BOOKING: ("Активная запись с таким номером не найдена.", "cancellation"),
    Refusal.ONE_BOOKING_PER_DAY: (
        "У пациента уже есть запись к этому врачу на этот день; отмените её, чтобы выбрать другое время.",
        "one booking per patient with a doctor per day",
    ),
    Refusal.DOCTOR_NOT_FOR_PATIENT: (
        "Этот врач не ведёт приём пациентов такого возраста: педиатр принимает детей до 18 лет, терапевт — "
        "взрослых. Выберите другого врача.",
        "who a doctor sees (shared.rules.doctors)",
    ),
    Refusal.CERT_NOT_STAFF: (
        "Подписать запрос может только работник этой медицинской организации своим свидетельством ЭЦП.",
        "diagram 2, process 5",
    ),
    Refusal.NO_SIGNING_RIGHT: (
        "Результат подписан лицом без права подписи от имени медицинской организации.",
        "process 8: ЭЦП уполномоченного лица услугодателя",
    ),
    Refusal.ROUTE_UNKNOWN: ("Получатель сообщения не зарегистрирован в ШЭП.", "gateway routing"),
    Refusal.ACCESS_DENIED: ("Отправителю не разрешён этот вид сообщения.", "gateway access rights"),
    Refusal.EXPIRED: ("Срок действия сообщения истёк.", "envelope expiry"),
    Refusal.REPLAYED: ("Сообщение уже было обработано.", "replay protection"),
    Refusal.MALFORMED: ("Сообщение имеет неверный формат.", "message contract"),
    Refusal.TIMEOUT: ("Сервис не ответил вовремя, повторите позже.", "technical fault"),
    Refusal.INTERNAL: ("Техническая ошибка, повторите позже.", "technical fault"),
}


def refusal_text(code: Refusal) -> str:
    """The citizen-facing explanation of a refusal code."""
    return REFUSAL_TEXTS[code][0]


class RefusalError(Exception):
    """A typed business refusal: raised by domain code, turned into a refusal reply or HTTP 4xx."""

    def __init__(self, code: Refusal, detail: str | None = None) -> None:
        super().__init__(detail or refusal_text(code))
        self.code = code
        self.detail = detail or refusal_text(code)
