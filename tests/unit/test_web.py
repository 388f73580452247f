"""The web layer's own pieces: translation catalogues, templates, redirects, CSRF, form reading."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest

from shared.web import astana_time, csrf_token, local_path, postal_address
from shared.web.catalogues import check, extract
from shared.web.forms import empty_values, form_fields
from shared.web.i18n import LANGUAGES, translator
from shared.wire.contracts import ServiceKind


def test_both_catalogues_hold_every_text_of_the_pages_translated() -> None:
    assert check() == []
    assert len(extract()) > 150  # the extraction finds the templates' and the code's texts


def test_the_languages_differ_and_fall_back_to_russian() -> None:
    assert set(LANGUAGES) == {"ru", "kk"}
    assert translator("ru")("Log in") == "Войти"
    assert translator("kk")("Log in") == "Кіру"
    assert translator("xx").language == "ru"
    assert translator("kk").status("completed") == "орындалды"
    assert translator("kk").status("something-new") == "something-new"


@pytest.mark.parametrize("service", ["portal", "arm"])
def test_every_template_compiles_in_both_languages(service: str) -> None:
    module = importlib.import_module(f"services.{service}.pages")
    pages = module.create_pages(secure_cookies=False)
    names = sorted(p.name for p in module.TEMPLATES.glob("*.html"))
    assert names
    for language in LANGUAGES:
        for name in names:
            pages.environment(language).get_template(name)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/requests", "/requests"),
        ("/requests?x=1", "/requests?x=1"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_redirects_stay_on_the_site(target: str | None, expected: str) -> None:
    assert local_path(target) == expected


def test_the_csrf_token_belongs_to_its_session() -> None:
    assert csrf_token("session-a") == csrf_token("session-a")
    assert csrf_token("session-a") != csrf_token("session-b")
    assert "session-a" not in csrf_token("session-a")


def test_form_inputs_become_the_contracts_fields() -> None:
    values = empty_values(
        address=" г. Астана, ул. Абая 1 ", phone="+77011234567", complaints="кашель", temperature="37,8"
    )
    assert form_fields(ServiceKind.HOME_CALL, values) == (
        {"address": "г. Астана, ул. Абая 1", "phone": "+77011234567", "complaints": "кашель", "temperature": "37.8"},
        None,
    )
    slot = empty_values(doctor_slot="d1-therapist-1|2026-12-01T10:00:00+05:00", patient_iin="180504600014")
    assert form_fields(ServiceKind.APPOINTMENT, slot) == (
        {"patient_iin": "180504600014", "doctor_code": "d1-therapist-1", "slot_start": "2026-12-01T10:00:00+05:00"},
        None,
    )
    attach = empty_values(clinic_bin="980440012347")
    assert form_fields(ServiceKind.ATTACHMENT, attach) == ({"reason": "voluntary"}, "980440012347")
    assert form_fields(ServiceKind.APPOINTMENT, empty_values(doctor_slot="no-separator")) == ({}, None)


def test_times_and_addresses_read_as_people_expect() -> None:
    assert astana_time(dt.datetime(2026, 11, 26, 5, 30, tzinfo=dt.UTC)) == "26.11.2026 10:30 (UTC+05:00)"
    assert astana_time(None) == "—"
    address = {"city": "Астана", "street": "улица Абая", "house": "5", "apartment": "12"}
    assert postal_address(address) == "Астана, улица Абая, 5, 12"
    assert postal_address(None) == "—"
