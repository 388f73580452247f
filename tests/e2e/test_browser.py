"""The web pages in a real browser (headless Debian Chromium) against the real mesh: a citizen registers,
books a slot, signs with a PKCS#12 key file in the page and opens the verified result; a late home call
shows its motivated refusal; a registrar files a home call for a walk-in citizen, signs it, marks it
visited, and the citizen's page shows it; wrong key passwords and other people's keys are explained
before anything is sent; the Kazakh switch. Every page visited is checked with axe-core.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from services.signature.ca import DevCA
from shared.wire.certs import KeyPurpose
from shared.wire.clock import Clock
from shared.wire.documents import verification_code
from tests.conftest import ASTANA, People
from tests.e2e.browser import assert_accessible, choose_time, key_file, launch, snapshot
from tests.e2e.citizens import PASSWORD, Citizen
from tests.e2e.ncalayer import NcaLayerDouble
from tests.e2e.staff import STAFF_PASSWORD, StaffClient, member
from tests.e2e.test_eservices import CLINIC_1, CLINIC_4
from tests.nca import VECTORS
from tests.waiting import until
from tools.launcher import Mesh

# The pages are the same code on either database; one mesh is enough for the browser.
pytestmark = pytest.mark.parametrize("mesh", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        instance = await launch(playwright)
        yield instance
        await instance.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    created = await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
    yield created
    await created.close()


async def visit(page: Page, url: str) -> None:
    await page.goto(url)
    await assert_accessible(page)


async def log_in(page: Page, base: str, iin: str, password: str) -> None:
    await visit(page, f"{base}/login")
    await page.fill("#f-iin", iin)
    await page.fill("#f-password", password)
    await page.click("main form button[type=submit]")
    assert "/login" not in page.url, await page.text_content("main")


async def open_key(page: Page, path: Path, password: str = "emhana") -> None:
    await page.set_input_files("#key-file", str(path))
    await page.fill("#key-password", password)
    await page.click("#open-key")
    await page.wait_for_selector("#sign-button:enabled, #key-problem:not([hidden])")


async def fill_home_call(page: Page, address: str, phone: str, complaints: str) -> None:
    await page.fill("#f-address", address)
    await page.fill("#f-phone", phone)
    await page.fill("#f-complaints", complaints)
    await page.click("main form button[type=submit]")
    assert "/drafts/" in page.url, await page.text_content("main")
    await assert_accessible(page)


async def sign_in_page(page: Page, key: Path) -> None:
    """Open the key file, sign and send; wait for the page that follows (the request, or what was filed)."""
    await open_key(page, key)
    assert await key_problem(page) is None, await page.text_content("#key-problem")
    await page.click("#sign-button")
    await page.wait_for_selector("#status")


async def key_problem(page: Page) -> str | None:
    return await page.get_attribute("#key-problem", "data-code") if await page.is_visible("#key-problem") else None


async def status_becomes(page: Page, wanted: set[str]) -> str:
    """Press "Обновить статус" until the request has one of ``wanted`` (the outcome, not the speed, counts)."""

    async def current() -> str | None:
        await page.click("#refresh")
        status = await page.get_attribute("#status", "data-status")
        return status if status in wanted else None

    return await until(current, 90, f"status in {wanted}")


async def test_citizen_registers_books_a_slot_signs_in_the_page_and_opens_the_verified_result(
    context: BrowserContext, mesh: Mesh, ca: DevCA, clock: Clock, people: People
) -> None:
    (person,) = people.take("attached_1")
    citizen = Citizen(person, mesh, ca, clock)
    key = key_file(ca, citizen.key, f"browser-{person.iin}")
    portal = mesh.url("portal")
    page = await context.new_page()

    await visit(page, f"{portal}/register")  # proven by ЭЦП: the challenge signed with the key file
    await page.fill("#f-password", PASSWORD)
    await page.fill("#f-password_again", PASSWORD)
    await open_key(page, key)
    assert await key_problem(page) is None, await page.text_content("#key-problem")
    assert await page.text_content("#key-info [data-iin]") == person.iin  # read from the certificate
    await assert_accessible(page)
    await page.click("#sign-button")
    await page.wait_for_url(f"{portal}/")
    assert page.url == f"{portal}/", await page.text_content("main")
    await assert_accessible(page)
    assert person.iin in (await page.text_content("main") or "")
    await snapshot(page, "portal-services")

    await visit(page, f"{portal}/services/appointment")
    await snapshot(page, "portal-appointment-slots", full_page=False)
    chosen = await choose_time(page)  # the end of the window: today's few are for other tests
    referral = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    await page.set_input_files(
        "#f-documents", files=[{"name": "napravlenie.pdf", "mimeType": "application/pdf", "buffer": referral}]
    )
    await page.wait_for_selector(".documents li input[name=documents]", state="attached")
    await page.click("#continue")
    assert "/drafts/" in page.url, await page.text_content("main")
    await assert_accessible(page)
    document = await page.text_content("pre.document")
    assert chosen is not None and chosen.split("|")[0] in (document or "")
    assert hashlib.sha256(referral).hexdigest() in (document or "")  # the attached document is signed with it
    assert "napravlenie.pdf" in (await page.text_content("#signed-documents") or "")

    await open_key(page, key)
    assert await key_problem(page) is None
    assert await page.text_content("#key-info [data-iin]") == person.iin
    await assert_accessible(page)
    await snapshot(page, "portal-signing")
    await page.click("#sign-button")
    await page.wait_for_selector("#status")
    assert "/requests/" in page.url
    assert await status_becomes(page, {"completed", "refused", "failed"}) == "completed"
    await assert_accessible(page)
    await snapshot(page, "portal-request")

    await page.click("#open-result")
    assert await page.get_attribute("#verification", "data-valid") == "true"
    assert CLINIC_1 in (await page.text_content("#verification") or "")  # signed by the citizen's clinic
    await assert_accessible(page)
    await snapshot(page, "portal-result")
    pdf = await context.request.get(f"{page.url}.pdf")
    assert pdf.status == 200 and (await pdf.body()).startswith(b"%PDF")

    # The questionnaire of Приложение 3, once the outcome is there.
    await page.go_back()
    await page.check("input[name=process_and_result][value='3']")
    await page.check("input[name=information][value='2']")
    await page.click("#survey button[type=submit]")
    assert await page.is_visible("[role=status]")
    assert not await page.is_visible("#survey")


async def test_a_citizen_registers_and_signs_through_ncalayer_with_a_gost_key(
    context: BrowserContext, mesh: Mesh, ca: DevCA, clock: Clock, people: People
) -> None:
    """ "Sign with NCALayer": the page finds NCALayer running, asks it to sign the exact text (the challenge
    with any key at registration, the document with a SIGN key), and sends the CMS it returns; a cancelled
    dialog is explained and nothing is sent. Without NCALayer the page says so and offers the key file."""
    (person,) = people.take("attached_1")
    key = ca.issue_person(person.iin, person.surname.upper(), person.name.upper(), key_type="gost")
    ncalayer = NcaLayerDouble(key, clock)
    portal = mesh.url("portal")
    page = await context.new_page()
    await ncalayer.install(page)

    await visit(page, f"{portal}/register")
    await page.wait_for_selector("#ncalayer[data-state=running] #ncalayer-sign:visible")
    await page.fill("#f-password", PASSWORD)
    await page.fill("#f-password_again", PASSWORD)
    await assert_accessible(page)
    await page.click("#ncalayer-sign")
    await page.wait_for_url(f"{portal}/")
    assert person.iin in (await page.text_content("main") or "")
    registration = ncalayer.requests[-1]["args"]
    assert registration["format"] == "cms" and registration["signerParams"]["extKeyUsageOids"] == []

    await visit(page, f"{portal}/services/home_call")
    await fill_home_call(page, "г. Астана, улица Сейфуллина, 10, кв. 5", "+77011234567", "температура")
    document = await page.text_content("pre.document")
    await page.wait_for_selector("#ncalayer-sign:visible")
    ncalayer.cancel_next = True
    await page.click("#ncalayer-sign")
    await page.wait_for_selector("#key-problem:not([hidden])")
    assert await key_problem(page) == "NCALayerCancelled" and "/drafts/" in page.url
    await page.click("#ncalayer-sign")
    await page.wait_for_selector("#status")
    assert await status_becomes(page, {"completed", "refused", "failed"}) == "completed"
    signing = ncalayer.requests[-1]["args"]
    assert base64.b64decode(signing["data"]).decode() == document  # NCALayer was given the exact text
    assert signing["signerParams"]["extKeyUsageOids"] == ["1.3.6.1.5.5.7.3.4"]  # a SIGN key for a document

    absent = await context.new_page()  # nothing answers at NCALayer's address
    await visit(absent, f"{portal}/register")
    await absent.wait_for_selector("#ncalayer[data-state=absent] #ncalayer-note:visible")
    assert not await absent.is_visible("#ncalayer-sign")


async def test_gost_2015_key_files_open_and_sign_in_the_page(
    context: BrowserContext, mesh: Mesh, ca: DevCA, people: People
) -> None:
    """НУЦ's own GOST 2015 key file (3DES and 40-bit RC2 inside, a Kazakh GOST key) opens in Chromium and
    shows its holder — and, its certificate having expired in 2023, is refused before anything is sent. A
    GOST key file of the development CA then registers a citizen and signs a home call in the page."""
    portal = mesh.url("portal")
    page = await context.new_page()
    await visit(page, f"{portal}/register")
    await open_key(page, VECTORS / "keys" / "individual_valid_2015_gost.p12", password="Aa123456")
    assert await page.text_content("#key-info [data-iin]") == "123456789012"
    assert "ТЕСТТОВ" in (await page.text_content("#key-info [data-owner]") or "")
    assert await key_problem(page) == "Expired"

    (person,) = people.take("attached_1")
    issued = ca.issue_person(person.iin, person.surname.upper(), person.name.upper(), key_type="gost")
    key = key_file(ca, issued, f"browser-gost-{person.iin}")
    await page.fill("#f-password", PASSWORD)
    await page.fill("#f-password_again", PASSWORD)
    await open_key(page, key)
    assert await key_problem(page) is None, await page.text_content("#key-problem")
    await page.click("#sign-button")
    await page.wait_for_url(f"{portal}/")
    await visit(page, f"{portal}/services/home_call")
    await fill_home_call(page, "г. Астана, улица Сейфуллина, 10, кв. 5", "+77011234567", "температура")
    await sign_in_page(page, key)
    assert await status_becomes(page, {"completed", "refused", "failed"}) == "completed"


async def test_a_late_home_call_shows_the_motivated_refusal(
    context: BrowserContext, mesh: Mesh, ca: DevCA, nura_patient: Citizen
) -> None:
    portal = mesh.url("portal")
    page = await context.new_page()
    await log_in(page, portal, nura_patient.iin, PASSWORD)
    await visit(page, f"{portal}/services/home_call")
    await fill_home_call(page, "г. Астана, улица Сейфуллина, 10, кв. 5", "+77011234567", "температура, слабость")
    await sign_in_page(page, key_file(ca, nura_patient.key, f"browser-{nura_patient.iin}"))
    assert await status_becomes(page, {"completed", "refused", "failed"}) == "refused"
    assert await page.get_attribute("#refusal", "data-code") == "AFTER_CUTOFF"
    assert "103" in (await page.text_content("#refusal") or "")  # the motivated text: where to turn instead
    await assert_accessible(page)
    await snapshot(page, "portal-refusal")


async def test_a_wrong_password_someone_elses_key_and_an_auth_key_are_explained_before_sending(
    context: BrowserContext, mesh: Mesh, ca: DevCA, clock: Clock, people: People
) -> None:
    own, other = people.take("attached_1", 2)
    citizen = await Citizen(own, mesh, ca, clock).enter()
    someone = Citizen(other, mesh, ca, clock)
    auth_key = ca.issue_person(own.iin, own.surname.upper(), own.name.upper(), purpose=KeyPurpose.AUTH)
    portal = mesh.url("portal")
    page = await context.new_page()
    await log_in(page, portal, own.iin, PASSWORD)
    await visit(page, f"{portal}/services/home_call")
    await fill_home_call(page, "г. Астана, улица Сейфуллина, 10, кв. 5", "+77011234567", "кашель")
    draft_url = page.url

    await open_key(page, key_file(ca, citizen.key, f"browser-{own.iin}"), password="not-the-password")
    assert await key_problem(page) == "WrongPassword"
    assert await page.is_disabled("#sign-button")
    await assert_accessible(page)
    await snapshot(page, "portal-wrong-password")

    await open_key(page, key_file(ca, someone.key, f"browser-{other.iin}"))
    assert await key_problem(page) == "SomeoneElse"
    assert other.iin in (await page.text_content("#key-problem") or "")
    assert await page.is_disabled("#sign-button")

    await open_key(page, key_file(ca, auth_key, f"browser-auth-{own.iin}"))
    assert await key_problem(page) == "AuthKey"
    assert await page.is_disabled("#sign-button")

    # Nothing was sent: the citizen still has no request, and the prepared one can still be signed.
    assert await citizen.call("GET", "/api/v1/requests") == []
    await sign_in_page(page, key_file(ca, citizen.key, f"browser-{own.iin}"))
    assert page.url != draft_url
    await citizen.close()


async def test_registrar_files_a_home_call_for_a_walk_in_citizen_and_marks_it_visited(
    context: BrowserContext, browser: Browser, mesh: Mesh, ca: DevCA, clock: Clock, people: People
) -> None:
    (person,) = people.take("attached_4")
    citizen = await Citizen(person, mesh, ca, clock).enter()
    registrar = StaffClient(member(CLINIC_4), mesh, ca)
    arm = mesh.url("arm")
    page = await context.new_page()
    await log_in(page, arm, registrar.who.iin, STAFF_PASSWORD)
    await assert_accessible(page)

    await visit(page, f"{arm}/persons?iin={person.iin}&reason=front+desk")
    assert person.iin in (await page.text_content("#person") or "")
    shown = (await page.locator("#person dd").nth(2).text_content() or "").strip()  # ГБД ФЛ's address
    bullets = "getComputedStyle(document.querySelector('ul.actions li')).listStyleType"
    assert await page.evaluate(bullets) == "none"  # the service buttons carry no stray bullets
    await page.click(f"a[href^='/file/home_call?iin={person.iin}&']")
    assert shown and await page.input_value("#f-address") == shown  # prefilled, still editable
    await assert_accessible(page)
    await fill_home_call(page, "г. Астана, проспект Мангилик Ел, 8, кв. 12", "+77021234567", "высокая температура")
    await open_key(page, key_file(ca, registrar.key, f"browser-staff-{registrar.who.iin}"))
    assert await key_problem(page) is None
    assert await page.text_content("#key-info [data-bin]") == CLINIC_4
    await page.click("#sign-button")
    await page.wait_for_selector("#status")
    assert await page.get_attribute("#status", "data-status") == "completed", await page.text_content("main")
    number = (await page.text_content("#registration-number") or "").strip()
    await assert_accessible(page)
    await snapshot(page, "arm-filed")

    await visit(page, f"{arm}/journal/home-calls")
    row = page.locator(f"#home-calls tr[data-number='{number}']")
    await row.locator("button[value=visited]").click()
    row = page.locator(f"#home-calls tr[data-number='{number}']")
    assert await row.locator("[data-status]").get_attribute("data-status") == "visited"
    await snapshot(page, "arm-home-calls")
    # The journal's filters: by status (and the day, today by default).
    await page.select_option("#f-status", "assigned")
    await page.click("form.filters button[type=submit]")
    assert "status=assigned" in page.url
    assert await page.locator(f"#home-calls tr[data-number='{number}']").count() == 0
    await page.select_option("#f-status", "visited")
    await page.click("form.filters button[type=submit]")
    assert await page.locator(f"#home-calls tr[data-number='{number}']").count() == 1

    # The citizen's own page shows the request filed for them, and the visit.
    citizen_page = await (await browser.new_context(locale="ru-RU")).new_page()
    portal = mesh.url("portal")
    await log_in(citizen_page, portal, person.iin, PASSWORD)
    await visit(citizen_page, f"{portal}/requests")
    await citizen_page.click(f"text={number}")
    assert await status_becomes(citizen_page, {"visited"}) == "visited"
    await citizen_page.context.close()
    await registrar.close()
    await citizen.close()


async def test_the_kazakh_switch_changes_the_texts(context: BrowserContext, mesh: Mesh) -> None:
    for site in ("portal", "arm"):
        base = mesh.url(site)
        page = await context.new_page()
        await visit(page, f"{base}/login")
        russian = await page.text_content("h1")
        await page.click("a[hreflang=kk]")
        assert await page.get_attribute("html", "lang") == "kk"
        kazakh = await page.text_content("h1")
        assert kazakh and kazakh != russian and "кіру" in kazakh.lower(), (russian, kazakh)
        await assert_accessible(page)
        await snapshot(page, f"{site}-login-kk")
        await page.click("a[hreflang=ru]")
        assert await page.text_content("h1") == russian


async def step_counts(mesh: Mesh, service: str) -> dict[str, int]:
    """How many of each step of the regulation the service has timed (its /service-levels)."""
    async with httpx.AsyncClient(base_url=mesh.url(service)) as http:
        return {row["step"]: row["count"] for row in (await http.get("/api/v1/service-levels")).json()["steps"]}


async def no_sideways_scrolling(page: Page) -> bool:
    return await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


async def test_every_page_reads_on_a_phone_and_passes_the_accessibility_check(
    browser: Browser, mesh: Mesh, ca: DevCA, clock: Clock, people: People
) -> None:
    phone = await browser.new_context(locale="kk-KZ", viewport={"width": 375, "height": 740}, is_mobile=True)
    page = await phone.new_page()
    (person,) = people.take("attached_1")
    citizen = await Citizen(person, mesh, ca, clock).enter()
    portal = mesh.url("portal")
    await log_in(page, portal, person.iin, PASSWORD)
    assert await page.get_attribute("html", "lang") == "kk"  # the browser's language, until switched
    for path in (
        "/",
        "/services/home_call",
        "/services/appointment",
        "/services/attachment",
        "/services/appointment_cancel",
        "/requests",
        "/register",
    ):
        await visit(page, portal + path)
        assert await no_sideways_scrolling(page), path

    # An error on a page is a page (in the person's language), not a JSON body.
    response = await page.goto(f"{portal}/requests/00000000-0000-4000-8000-000000000000")
    assert response is not None and response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]  # pages load only their own code
    assert response.headers["x-frame-options"] == "DENY"
    assert await page.get_attribute("#problem", "data-code") == "NOT_FOUND"
    api = await phone.request.get(f"{portal}/api/v1/services")
    assert api.ok and "content-security-policy" not in api.headers  # the JSON API keeps its own headers
    await assert_accessible(page)

    registrar = member(CLINIC_1)
    arm = mesh.url("arm")
    await log_in(page, arm, registrar.iin, STAFF_PASSWORD)
    for path in (
        "/",
        "/persons",
        f"/persons?iin={person.iin}&reason=front+desk",
        "/file/home_call",
        "/file/appointment",
        "/file/attachment",
        "/journal/home-calls",
        "/journal/appointments",
        "/absences",
        "/attachments",
        "/overdue",
    ):
        await visit(page, arm + path)
        assert await no_sideways_scrolling(page), path
    await phone.close()
    await citizen.close()


@pytest.mark.parametrize("width", [375, 1280])
async def test_choosing_a_time_takes_three_short_steps_at_phone_and_desktop_width(
    browser: Browser, mesh: Mesh, ca: DevCA, clock: Clock, people: People, width: int
) -> None:
    """A day, then a doctor who sees this patient, then a time: each step fits the width, none is the whole
    week's radio buttons, and an adult is never offered the paediatrician."""
    context = await browser.new_context(locale="ru-RU", viewport={"width": width, "height": 800}, is_mobile=width < 600)
    page = await context.new_page()
    (person,) = people.take("attached_1")
    citizen = await Citizen(person, mesh, ca, clock).enter()
    portal = mesh.url("portal")
    timed = await step_counts(mesh, "portal")
    await log_in(page, portal, person.iin, PASSWORD)
    assert (await step_counts(mesh, "portal"))["process_1"] == timed["process_1"] + 1  # the pages' log-in: timed

    async def height() -> int:
        return int(await page.evaluate("document.documentElement.scrollHeight"))

    await visit(page, f"{portal}/services/appointment")
    assert await no_sideways_scrolling(page) and await height() < 2500, width  # not 15,000 px of radio buttons
    assert "педиатр" not in (await page.text_content("main") or "")
    assert await page.locator("input[name=doctor_slot]").count() == 0  # times come after a day and a doctor
    await assert_accessible(page)
    if width < 600:
        await snapshot(page, "portal-time-choice-375", full_page=False)
    chosen = await choose_time(page, day=1)
    assert await no_sideways_scrolling(page) and await height() < 4000, width
    offered = await page.locator("#choose-time input[name=doctor_slot]").count()
    assert 0 < offered <= 40  # one doctor's one day
    assert "педиатр" not in (await page.text_content("main") or "")
    await assert_accessible(page)
    if width < 600:
        await snapshot(page, "portal-time-choice-times-375", full_page=False)
    await page.click("#continue")
    assert (await step_counts(mesh, "portal"))["process_3"] == timed["process_3"] + 1  # the pages' form: timed
    document = await page.text_content("pre.document") or ""
    doctor, _, start = chosen.partition("|")
    assert f'"doctor_code":"{doctor}"' in document and f'"slot_start":"{start}"' in document
    await citizen.close()
    await context.close()


async def test_logging_in_and_signing_work_with_the_keyboard_alone(
    context: BrowserContext, mesh: Mesh, ca: DevCA, clock: Clock, people: People
) -> None:
    (person,) = people.take("attached_1")
    citizen = await Citizen(person, mesh, ca, clock).enter()
    portal = mesh.url("portal")
    page = await context.new_page()
    await page.goto(f"{portal}/login")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"  # first stop: skip to content
    await page.focus("#f-iin")
    await page.keyboard.type(person.iin)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{portal}/requests")

    await page.goto(f"{portal}/services/home_call")
    await page.focus("#f-address")
    await page.keyboard.type("г. Астана, улица Сейфуллина, 10, кв. 5")
    await page.keyboard.press("Tab")
    await page.keyboard.type("+77011234567")
    await page.keyboard.press("Tab")
    await page.keyboard.type("кашель")
    await page.keyboard.press("Enter")  # in a textarea: a new line, not a submission
    assert "/services/home_call" in page.url
    await page.click("main form button[type=submit]")
    await page.set_input_files("#key-file", str(key_file(ca, citizen.key, f"browser-{person.iin}")))
    await page.focus("#key-password")
    await page.keyboard.type("emhana")
    await page.keyboard.press("Enter")  # Enter in the password field opens the key
    await page.wait_for_selector("#sign-button:enabled")
    assert await page.evaluate("document.activeElement.id") == "sign-button"  # focus moves on to signing
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#status")
    await citizen.close()


async def test_a_parent_attaches_their_child_and_books_for_them_in_the_pages(
    context: BrowserContext, mesh: Mesh, ca: DevCA, clock: Clock, people: People
) -> None:
    parent_person, child = people.family()
    parent = await Citizen(parent_person, mesh, ca, clock).enter()
    key = key_file(ca, parent.key, f"browser-{parent.iin}")
    portal = mesh.url("portal")
    page = await context.new_page()
    await log_in(page, portal, parent.iin, PASSWORD)

    await visit(page, f"{portal}/services/attachment")
    await page.fill("#f-patient_iin", child.iin)
    await page.check(f"input[name=clinic_bin][value='{CLINIC_4}']")
    await page.click("main form button[type=submit]")
    assert "/drafts/" in page.url, await page.text_content("main")
    await sign_in_page(page, key)
    assert await status_becomes(page, {"completed", "refused", "failed"}) == "completed"

    # The slot picker shows the child's clinic (only to their parent: the guardian check comes first).
    # Only doctors who see a child are offered (no adults' therapist); the first free time is one tap.
    await visit(page, f"{portal}/services/appointment?patient_iin={child.iin}")
    assert await page.input_value("#f-patient_iin") == child.iin
    offered = await page.text_content("main") or ""
    assert "врач общей практики" in offered and "участковый терапевт" not in offered
    await page.click("button[name=first_slot]")
    document = await page.text_content("pre.document") or ""
    assert f'"patient_iin":"{child.iin}"' in document and '"doctor_code":"d4-gp"' in document
    await sign_in_page(page, key)
    assert await status_becomes(page, {"completed", "refused", "failed"}) == "completed"

    # Someone else's child: refused before any of the child's data is looked up.
    (stranger,) = people.take("unattached")
    other = await Citizen(stranger, mesh, ca, clock).enter()
    await log_in(page, portal, stranger.iin, PASSWORD)
    response = await page.goto(f"{portal}/services/appointment?patient_iin={child.iin}")
    assert response is not None and response.status == 422
    assert await page.get_attribute("#problem", "data-code") == "NOT_GUARDIAN"
    assert await page.locator("input[name=doctor_slot], button[name=first_slot]").count() == 0
    await other.close()
    await parent.close()


async def test_an_expired_certificate_is_explained_before_sending(
    context: BrowserContext, mesh: Mesh, ca: DevCA, clock: Clock, people: People
) -> None:
    (person,) = people.take("attached_1")
    citizen = await Citizen(person, mesh, ca, clock).enter()
    now = clock.now()
    expired = ca.issue_person(
        person.iin,
        person.surname.upper(),
        person.name.upper(),
        not_before=now - dt.timedelta(days=400),
        not_after=now - dt.timedelta(days=1),
    )
    portal = mesh.url("portal")
    page = await context.new_page()
    await log_in(page, portal, person.iin, PASSWORD)
    await visit(page, f"{portal}/services/home_call")
    await fill_home_call(page, "г. Астана, улица Сейфуллина, 10, кв. 5", "+77011234567", "кашель")
    await open_key(page, key_file(ca, expired, f"browser-expired-{person.iin}"))
    assert await key_problem(page) == "Expired"  # judged by the portal's clock, not the browser's
    assert await page.is_disabled("#sign-button")
    assert await citizen.call("GET", "/api/v1/requests") == []
    await citizen.close()


async def test_staff_record_an_arrival_and_the_visit_held_in_the_appointments_journal(
    context: BrowserContext, mesh: Mesh, ca: DevCA, clock: Clock, people: People
) -> None:
    (person,) = people.take("attached_1")
    citizen = await Citizen(person, mesh, ca, clock).enter()
    # An arrival is recorded on the day itself: one of this afternoon's slots (d1-therapist-2 until 20:00).
    today = await citizen.call("GET", f"/api/v1/clinics/{CLINIC_1}/slots", params={"days": 1})
    assert len(today) >= 3, today
    slot = today[1]
    booked = await citizen.wait(
        (await citizen.submit("appointment", doctor_code=slot["doctor_code"], slot_start=slot["start"]))["id"]
    )
    number = booked["registration_number"]
    registrar = member(CLINIC_1)
    arm = mesh.url("arm")
    page = await context.new_page()
    await log_in(page, arm, registrar.iin, STAFF_PASSWORD)
    await visit(page, f"{arm}/journal/appointments")
    row = page.locator(f"#appointments tr[data-number='{number}']")
    await row.locator("button[value=arrived]").click()
    row = page.locator(f"#appointments tr[data-number='{number}']")
    assert await row.locator("[data-state]").get_attribute("data-state") == "arrived"
    await row.locator("button[value=fulfilled]").click()
    row = page.locator(f"#appointments tr[data-number='{number}']")
    assert await row.locator("[data-state]").get_attribute("data-state") == "fulfilled"
    await assert_accessible(page)
    assert (await citizen.wait(booked["id"], until={"fulfilled"}))["status"] == "fulfilled"

    # A doctor's absence, on a day nobody has booked (the pediatrician, twelve days ahead).
    away = clock.now().astimezone(ASTANA).date() + dt.timedelta(days=12)
    await visit(page, f"{arm}/absences")
    await page.select_option("#f-doctor_code", "d1-pediatrician")
    await page.fill("#f-day", f"{away:%d.%m.%Y}")  # as people here write a day, whatever the browser's locale
    await page.fill("#f-reason", "отпуск")
    await page.click("main form button[type=submit]")
    assert await page.is_visible("#cancelled")
    slots = await citizen.call(
        "GET", f"/api/v1/clinics/{CLINIC_1}/slots", params={"doctor_code": "d1-pediatrician", "days": 14}
    )
    assert not [s for s in slots if s["start"].startswith(away.isoformat())]  # that day is gone from the picker
    await citizen.close()


@pytest.mark.parametrize("width", [375, 1280])
async def test_the_staff_journal_keeps_every_column_and_button_in_sight(
    browser: Browser, mesh: Mesh, ca: DevCA, people: People, width: int
) -> None:
    """On a phone the journal's rows become cards; at any width nothing is cut off or needs sideways
    scrolling (measured in the page), and the day filter reads dd.mm.yyyy whatever the browser's locale."""
    registrar = StaffClient(member(CLINIC_1), mesh, ca)
    await registrar.login()
    (person,) = people.take("attached_1")
    filed = await registrar.file(
        "home_call", person.iin, address="г. Астана, улица Сейфуллина, 12", phone="+77017654321", complaints="кашель"
    )
    number = filed["registration_number"]
    context = await browser.new_context(locale="en-US", viewport={"width": width, "height": 800}, is_mobile=width < 600)
    page = await context.new_page()
    arm = mesh.url("arm")
    timed = await step_counts(mesh, "arm")
    await log_in(page, arm, registrar.who.iin, STAFF_PASSWORD)
    assert (await step_counts(mesh, "arm"))["step_1"] == timed["step_1"] + 1  # the staff pages' log-in: timed
    await visit(page, f"{arm}/journal/home-calls")
    row = page.locator(f"#home-calls tr[data-number='{number}']")
    assert await row.count() == 1
    assert await no_sideways_scrolling(page), width
    region = "document.querySelector('.table-wrap')"
    assert await page.evaluate(f"{region}.scrollWidth <= {region}.clientWidth + 1"), width  # nothing hidden sideways
    for button in await row.locator("button").all():
        box = await button.bounding_box()
        assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= width, (width, box)
    await assert_accessible(page)
    if width < 600:
        await snapshot(page, "arm-home-calls-375", full_page=False)
    today = Clock(mesh.clock_offset_seconds).now().astimezone(ASTANA).date()
    await page.fill("#f-day", f"{today:%d.%m.%Y}")  # an English browser, a Kazakh day
    await page.click("form.filters button[type=submit]")
    assert await page.input_value("#f-day") == f"{today:%d.%m.%Y}"
    assert await page.locator(f"#home-calls tr[data-number='{number}']").count() == 1  # the same day's journal
    await registrar.close()
    await context.close()


REGULATION_WORDS = {
    "ru": {
        "order": "Заказать услугу онлайн",
        "send": "Отправить запрос",
        "refresh": "Обновить статус",
        "open": "Открыть",
    },
    "kk": {
        "order": "Қызметке онлайн тапсырыс беру",
        "send": "Сұрау салуды жіберу",
        "refresh": "Мәртебені жаңарту",
        "open": "Ашу",
    },
}


@pytest.mark.parametrize("language", ["ru", "kk"])
async def test_every_page_of_both_sites_passes_the_accessibility_check_in_both_languages(
    browser: Browser, mesh: Mesh, ca: DevCA, clock: Clock, people: People, language: str
) -> None:
    """axe-core (WCAG 2.1 A/AA: every control labelled, contrast, landmarks…) on each page of the portal and
    the АРМ — the public ones, a citizen's, a request with its result and its public check, the staff's —
    in Russian and in Kazakh; the table at the end of the test output lists them all."""
    context = await browser.new_context(locale=f"{language}-KZ", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    portal, arm = mesh.url("portal"), mesh.url("arm")
    for path in ("/login", "/login/key", "/register"):
        await visit(page, portal + path)
        assert await page.get_attribute("html", "lang") == language
    (person,) = people.take("attached_1")
    citizen = await Citizen(person, mesh, ca, clock).enter()
    request = await citizen.submit(
        "home_call", address="г. Астана, улица Сейфуллина, 12", phone="+77017654321", complaints="кашель"
    )
    done = await citizen.wait(request["id"])
    result = await citizen.call("GET", f"/api/v1/requests/{request['id']}/result")
    await log_in(page, portal, person.iin, PASSWORD)
    # The buttons say what the regulation calls the steps (diagram 1), in this language.
    words = REGULATION_WORDS[language]
    await visit(page, portal + "/")
    assert await page.locator(f"a.button:text-is('{words['order']}')").count() == 4
    await visit(page, portal + "/services/home_call")
    assert (await page.text_content("#continue") or "").strip() == words["send"]
    await visit(page, f"{portal}/requests/{request['id']}")
    assert (await page.text_content("#refresh") or "").strip() == words["refresh"]
    assert (await page.text_content("#open-result") or "").strip() == words["open"]
    for path in (
        "/",
        *(f"/services/{kind}" for kind in ("home_call", "appointment", "attachment", "appointment_cancel")),
        "/requests",
        f"/requests/{request['id']}",
        f"/requests/{request['id']}/result",
        f"/verify/{done['registration_number']}?h={verification_code(result['jws'])}",
    ):
        await visit(page, portal + path)
    assert await page.get_attribute("#verification", "data-valid") == "true"
    registrar = member(CLINIC_1)
    await log_in(page, arm, registrar.iin, STAFF_PASSWORD)
    for path in (
        "/",
        f"/persons?iin={person.iin}&reason=front+desk",
        *(f"/file/{kind}?iin={person.iin}" for kind in ("home_call", "appointment", "attachment")),
        "/journal/home-calls",
        "/journal/appointments",
        "/absences",
        "/attachments",
        "/overdue",
        "/service-levels",
    ):
        await visit(page, arm + path)
        assert await page.get_attribute("html", "lang") == language
    step_1 = page.locator("#service-levels tr[data-step='step_1'] td").nth(2)  # the log-ins just made: counted
    assert int((await step_1.text_content() or "0").strip()) >= 1
    await citizen.close()
    await context.close()
