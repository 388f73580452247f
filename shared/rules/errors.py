"""What the domain refuses, in its own words: a request that breaks a rule of the service (not one of the
regulation's refusal codes, which are :class:`shared.wire.refusals.RefusalError`).

Domain code — the services' rules, accounts, journals — raises these; it knows nothing of HTTP. The edge
gives each kind its HTTP status once (:data:`shared.platform.http.HTTP_STATUS`): the JSON API answers
``{"code", "message"}`` with it and the pages show it in their problem box. ``code`` is a stable code of
:class:`shared.platform.http.ApiCode`, given as a literal at the raise site (a unit test holds this).
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the service refused the request: a stable ``code`` and a message for people."""

    def __init__(self, code: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.retry_after = code, message, retry_after


class NotAuthenticated(DomainError):
    """No session, or it expired or was revoked: log in first."""


class NotAllowed(DomainError):
    """Logged in, but this person (their role, their state) may not do this."""


class NotFound(DomainError):
    """No such thing — or not the asker's: another's request does not exist for them."""


class Conflict(DomainError):
    """In conflict with the current state: already done, closed, answered, or not in the state it needs."""


class Expired(DomainError):
    """It was there and is gone (a prepared request past its time): prepare it again."""


class TooLarge(DomainError):
    """More bytes than the rule allows."""


class UnsupportedType(DomainError):
    """A file of a type that is not accepted."""


class RuleBroken(DomainError):
    """A value breaks a rule of the form (a password too short, a reason missing, an unknown action)."""


class TooManyAttempts(DomainError):
    """Too many attempts: wait ``retry_after`` seconds."""


class Overloaded(DomainError):
    """The service is at its limit for now: try again after ``retry_after`` seconds."""
