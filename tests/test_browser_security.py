"""The web surface in real Chromium: the security headers and a strict Content-Security-Policy on every
page with no violation, and no secret sent back to the browser or left in the tab after logging out."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from ekpanel.mail.texts import Text, note
from ekpanel.mail.vocabulary import Decision, Outcome, Reason
from ekpanel.servers.operations import ServerValues, save_server
from tests.factories import make_check, make_company, make_decision, make_document, make_user, pdf_bytes
from tests.support.browser import assert_no_problems, htmx_settled, log_in, watch_for_problems
from tests.support.ports import free_port

pytestmark = pytest.mark.browser

PASSWORD = "Nie-Wysylaj-Mnie-7!"
CLIENT_SECRET = "Qx8~nigdy-nie-wraca-do-przegladarki"


@pytest.fixture
def office(live_server):
    """An administrator and an operator; a company with an IMAP server (on a port where nothing
    listens, so its folder list fails at once) and an Outlook one, a document and a failed check."""
    make_user("szef", admin=True)
    company = make_company("Alfa sp. z o.o.")
    imap = save_server(
        None,
        company,
        ServerValues(
            protocol="imap",
            host="127.0.0.1",
            port=free_port(),
            encryption="ssl",
            username="faktury",
            secret="zapisane-haslo",
            whitelist=["*@dostawca.pl"],
            folders=["INBOX"],
        ),
    )
    graph = save_server(
        None,
        company,
        ServerValues(
            protocol="graph",
            name="Outlook Alfa",
            client_id="aaaaaaaa-0000-0000-0000-000000000001",
            tenant="contoso.onmicrosoft.com",
            mailbox_address="faktury@contoso.com",
            secret="zapisany-klucz",
            whitelist=["*@dostawca.pl"],
            folders=["INBOX"],
        ),
    )
    check = make_check(imap, outcome=Outcome.FAILED, error_code="auth", error=note(Text.IMAP_AUTH_FAILED))
    make_decision(check, decision=Decision.SKIPPED, reason=Reason.NO_PDF)
    document = make_document(company, server=imap, data=pdf_bytes("faktura"))
    operator = make_user("ewa", companies=[company], can_refresh=True)
    return SimpleNamespace(
        company=company, imap=imap, graph=graph, check=check, document=document, operator=operator
    )


def admin_pages(office) -> list[tuple[str, int]]:
    """Every page of the panel an administrator opens, with the status it answers."""
    company, imap, graph = office.company.id, office.imap.id, office.graph.id
    return [
        ("/", 200),
        (f"/companies/{company}/documents", 200),
        (f"/companies/{company}/documents?q=faktura&status=new", 200),
        (f"/documents/{office.document.id}", 200),
        (f"/documents/{office.document.id}/pdf", 200),
        (f"/companies/{company}/checks", 200),
        (f"/servers/{imap}/checks", 200),
        (f"/servers/{imap}/checks?q=nadawca", 200),
        (f"/checks/{office.check.id}", 200),
        ("/settings/email/", 200),
        (f"/settings/email/companies/{company}", 200),
        ("/settings/email/companies/new", 200),
        (f"/settings/email/companies/{company}/edit", 200),
        (f"/settings/email/companies/{company}/servers/new", 200),
        (f"/settings/email/servers/{imap}/edit", 200),
        (f"/settings/email/servers/{graph}/edit", 200),
        (f"/settings/email/servers/{imap}/delete", 200),
        (f"/settings/email/servers/{imap}/remote-folders", 200),
        ("/settings/email/consent/callback?state=forged", 400),
        ("/admin/users", 200),
        ("/admin/users/new", 200),
        (f"/admin/users/{office.operator.id}", 200),
        ("/no-such-page", 404),
    ]


def operator_pages(office) -> list[tuple[str, int]]:
    company = office.company.id
    return [
        ("/", 302),  # one company: straight to its list
        (f"/companies/{company}/documents", 200),
        (f"/documents/{office.document.id}", 200),
        (f"/companies/{company}/checks", 200),
        ("/admin/users", 403),
        ("/settings/email/", 403),
    ]


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in filter(None, (part.strip() for part in policy.split(";"))):
        name, *values = directive.split()
        parsed[name] = values
    return parsed


def assert_security_headers(response) -> None:
    headers = response.all_headers()
    framed_here = re.search(r"/documents/\d+/pdf$", response.url) is not None
    policy = directives(headers.get("content-security-policy", ""))
    assert policy.get("default-src") == ["'self'"], response.url
    assert policy.get("script-src") == ["'self'"], response.url
    assert policy.get("style-src") == ["'self'"], response.url
    assert policy.get("object-src") == ["'none'"], response.url
    assert policy.get("frame-ancestors") == (["'self'"] if framed_here else ["'none'"]), response.url
    assert not {"'unsafe-inline'", "'unsafe-eval'"} & {v for values in policy.values() for v in values}
    assert headers.get("x-frame-options") == ("SAMEORIGIN" if framed_here else "DENY"), response.url
    assert headers.get("referrer-policy") == "same-origin", response.url
    assert headers.get("x-content-type-options") == "nosniff", response.url


class ResponseLog:
    """Every answer of the panel that reaches the browser."""

    def __init__(self, page, base_url: str):
        self.responses = []
        page.on("response", lambda r: self.responses.append(r) if r.url.startswith(base_url) else None)


def walk(page, pages: list[tuple[str, int]], problems: list[str]) -> None:
    for url, status in pages:
        response = page.goto(url)
        if status == 302:
            assert response.request.redirected_from is not None, url
        else:
            assert response.status == status, url
        if not url.endswith("/pdf"):
            htmx_settled(page)
        assert problems == [], f"{url}: {problems}"


def test_every_page_carries_the_headers_and_breaks_no_rule_of_its_policy(browser, live_server, office):
    context = browser.new_context(base_url=live_server.url, locale="pl-PL", timezone_id="Europe/Warsaw")
    context.set_default_timeout(20_000)
    problems = watch_for_problems(context)
    page = context.new_page()
    log = ResponseLog(page, live_server.url)
    try:
        page.goto("/login")
        log_in(page, "szef")
        walk(page, admin_pages(office), problems)
        page.get_by_role("button", name="Wyloguj").click()
        expect(page.get_by_role("button", name="Zaloguj")).to_be_visible()
        log_in(page, "ewa")
        walk(page, operator_pages(office), problems)
        # Chromium's PDF viewer reports the stream it is handed as one more response, without headers.
        answers = [response for response in log.responses if response.all_headers()]
        assert len(answers) > 50
        for response in answers:  # pages, redirects, static files, the PDF
            assert_security_headers(response)
    finally:
        context.close()
    assert_no_problems(problems)


def test_the_pdf_is_shown_in_its_frame_on_the_document_page(page, live_server, office):
    log_in(page, "ewa")
    page.goto(f"/documents/{office.document.id}")  # waits for the load event, the frame's included
    pdf_frame = next(f for f in page.frames if f.url.endswith(f"/documents/{office.document.id}/pdf"))
    assert pdf_frame.evaluate("document.contentType") == "application/pdf"  # not Chromium's error page


def test_the_page_refuses_inline_script_and_the_watch_reports_it(browser, live_server, office):
    """The policy is enforced, and the violations the other tests look for would be seen."""
    context = browser.new_context(base_url=live_server.url)
    problems = watch_for_problems(context)
    page = context.new_page()
    try:
        log_in(page, "szef")
        page.evaluate(
            """() => {
              window.ranInline = false;
              const img = document.createElement("img");
              img.setAttribute("onerror", "window.ranInline = true");
              img.src = "/no-such-image";
              document.body.append(img);
              const script = document.createElement("script");
              script.textContent = "window.ranInline = true";
              document.body.append(script);
            }"""
        )
        page.wait_for_function("() => document.querySelector('img[onerror]').complete")
        assert page.evaluate("window.ranInline") is False
        # (Code run through DevTools may eval; a task it schedules may not.)
        page.evaluate(
            """() => setTimeout(() => {
              try { window.evaluated = new Function("return 2")(); } catch (e) { window.evaluated = e.name; }
            })"""
        )
        page.wait_for_function("() => window.evaluated !== undefined")
        assert page.evaluate("window.evaluated") == "EvalError"
    finally:
        context.close()
    assert any("CSP violation: script-src" in problem for problem in problems), problems


def test_the_controls_without_inline_handlers_still_work(page, live_server, office):
    make_document(office.company, server=office.imap)
    log_in(page, "szef")

    # The language select submits itself (static/panel.js).
    page.get_by_label("Język").select_option("en")
    expect(page.get_by_role("link", name="Received documents - e-mail")).to_be_visible()
    # The new page shows before its deferred scripts run: a change made then would go unheard.
    page.wait_for_load_state("domcontentloaded")
    page.get_by_label("Language").select_option("pl")
    expect(page.get_by_role("link", name="Przekazane dokumenty - e-mail")).to_be_visible()

    # "Zaznacz wszystkie" checks every row (static/documents.js).
    page.goto(f"/companies/{office.company.id}/documents")
    page.get_by_label("Zaznacz wszystkie").check()
    rows = page.locator("input[form=bulk-status][name=ids]")
    expect(rows).to_have_count(2)
    for index in range(2):
        expect(rows.nth(index)).to_be_checked()
    page.get_by_role("button", name="Oznacz zaznaczone jako zarejestrowane").click()
    expect(page.get_by_role("status")).to_contain_text("Oznaczono jako zarejestrowane: 2.")

    # The port follows the encryption until one is typed (static/server-dialog.js).
    page.goto(f"/settings/email/companies/{office.company.id}")
    page.get_by_role("link", name="Dodaj serwer").click()
    htmx_settled(page)
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Rodzaj szyfrowania").select_option(label="STARTTLS")
    expect(dialog.get_by_label("Port")).to_have_value("143")
    dialog.get_by_label("Port").fill("10143")
    dialog.get_by_label("Rodzaj szyfrowania").select_option(label="SSL/TLS")
    expect(dialog.get_by_label("Port")).to_have_value("10143")


def test_no_secret_goes_back_to_the_browser_or_stays_in_the_tab(page, live_server, office):
    bodies: list[str] = []

    def keep_body(response) -> None:
        html = "text/html" in response.headers.get("content-type", "")
        if response.url.startswith(live_server.url) and html and not 300 <= response.status < 400:
            bodies.append(response.text())

    page.on("response", keep_body)
    log_in(page, "szef")
    page.goto("/settings/email/")
    page.get_by_role("link", name="Alfa sp. z o.o.").click()
    page.get_by_role("link", name="Dodaj serwer").click()
    htmx_settled(page)
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Nazwa użytkownika").fill("kadry")
    dialog.get_by_label("Hasło").fill(PASSWORD)
    dialog.get_by_role("button", name="Zapisz").click()  # no host: sent back with errors

    expect(dialog.locator("#field-host").get_by_role("alert")).to_be_visible()
    expect(dialog.get_by_label("Hasło")).to_have_value("")
    expect(dialog.locator("#field-password").get_by_role("status")).to_contain_text("wpisz je ponownie")
    dialog.get_by_label("Serwer poczty przychodzącej").fill("imap.biuro.pl")
    dialog.get_by_label("Hasło").fill(PASSWORD)
    dialog.get_by_role("button", name="Zapisz").click()
    expect(dialog.get_by_text("Dodano serwer kadry (imap.biuro.pl).")).to_be_visible()
    expect(dialog.get_by_label("Hasło")).to_have_value("")

    page.once("dialog", lambda question: question.accept())  # "Zamknąć okno?" (typed into)
    dialog.get_by_role("link", name="Zamknij").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.get_by_role("link", name="Outlook Alfa").click()
    htmx_settled(page)
    dialog.get_by_label("Klucz sekretny aplikacji").fill(CLIENT_SECRET)
    dialog.get_by_label("Tenant ID").fill("contoso")  # not a directory
    dialog.get_by_role("button", name="Zapisz").click()
    expect(dialog.locator("#field-tenant").get_by_role("alert")).to_be_visible()
    expect(dialog.get_by_label("Klucz sekretny aplikacji")).to_have_value("")
    expect(dialog.locator("#field-client_secret").get_by_role("status")).to_contain_text("wpisz go ponownie")
    page.once("dialog", lambda question: question.accept())
    dialog.get_by_role("link", name="Zamknij").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    htmx_settled(page)

    assert len(bodies) >= 6
    for body in bodies:
        assert PASSWORD not in body and CLIENT_SECRET not in body
    # htmx kept pages of this tab (its history cache), but none that had a secret field.
    storage = page.evaluate("() => JSON.stringify(Object.entries(sessionStorage))")
    assert PASSWORD not in storage and CLIENT_SECRET not in storage
    cache = page.evaluate("() => JSON.parse(sessionStorage.getItem('htmx-history-cache') || '[]')")
    assert cache, "htmx keeps the pages this tab left in its history cache"
    for entry in cache:
        assert 'type="password"' not in entry["content"], entry["url"]

    page.get_by_role("button", name="Wyloguj").click()
    expect(page.get_by_role("button", name="Zaloguj")).to_be_visible()
    page.wait_for_load_state("domcontentloaded")  # the login page's deferred panel.js has cleared it
    assert page.evaluate("() => sessionStorage.length") == 0
    assert PASSWORD not in page.evaluate("() => JSON.stringify(Object.entries(localStorage))")
