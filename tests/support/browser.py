"""Real Chromium (Debian's package) through Playwright, against the app served on a loopback port."""

from __future__ import annotations

import shutil
import threading

import pytest
from werkzeug.serving import make_server

from tests.factories import PASSWORD

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps calling out to Google, and this machine refuses it.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Debian's chromium is not installed (scripts/test installs it)")
    return path


def closed_before_written(app):
    """``app``, each of whose responses is read whole and closed before the server writes it.

    Werkzeug's development server closes a response only after draining what the client still sends,
    and a browser that resets the connection (a page left while it loads) makes that drain raise. The
    response's file (a static one) was then left to the garbage collector, whose ResourceWarning
    failed whichever test ran next. The tests' responses are small; none needs streaming.
    """

    def wsgi(environ, start_response):
        response = app(environ, start_response)
        try:
            return [b"".join(response)]
        finally:
            if hasattr(response, "close"):
                response.close()

    return wsgi


class LiveServer:
    """The Flask app in a thread of this process, so tests share its database and objects."""

    def __init__(self, app):
        self.app = app
        self._server = make_server("127.0.0.1", 0, closed_before_written(app), threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def live_server(sqlite_app):
    sqlite_app.config["WTF_CSRF_ENABLED"] = True  # the browser goes through the real CSRF checks
    server = LiveServer(sqlite_app).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


# Chromium reports a Content-Security-Policy violation in its console only sometimes (not for every
# directive, not in every frame); the event is always fired, and this turns it into a console error.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline code"}`
    + ` in ${event.sourceFile || document.URL}:${event.lineNumber}`);
});
"""

# An HTTP error status is logged as a console error too; the tests that cause one check the status.
HTTP_STATUS_MESSAGE = "Failed to load resource: the server responded with a status of"


def watch_for_problems(context) -> list[str]:
    """Every CSP violation, console error and uncaught exception in ``context``'s pages, as they come."""
    problems: list[str] = []
    context.add_init_script(REPORT_CSP_VIOLATIONS)

    def console(message) -> None:
        if message.type == "error" and not message.text.startswith(HTTP_STATUS_MESSAGE):
            problems.append(f"console error on {message.page.url if message.page else '?'}: {message.text}")

    context.on("console", console)
    context.on("weberror", lambda error: problems.append(f"uncaught: {error.error}"))
    return problems


def assert_no_problems(problems: list[str]) -> None:
    if problems:
        pytest.fail("the browser reported problems:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def page(browser, live_server):
    """A page of the panel; the test fails on any CSP violation or console error it met."""
    context = browser.new_context(base_url=live_server.url, locale="pl-PL", timezone_id="Europe/Warsaw")
    context.set_default_timeout(20_000)  # generous: CI has two cores for everything
    problems = watch_for_problems(context)
    page = context.new_page()
    yield page
    context.close()
    assert_no_problems(problems)


def log_in(page, login: str, password: str = PASSWORD) -> None:
    """Log in through the form, as a person would."""
    page.goto("/login")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Hasło").fill(password)
    page.get_by_role("button", name="Zaloguj").click()
    page.wait_for_url(lambda url: "/login" not in url)


def htmx_settled(page) -> None:
    """Wait until htmx has no request in flight and has processed what it swapped in.

    A control swapped in a moment ago has no htmx listeners until htmx processes it; a test acting
    within those milliseconds (no person does) would change it unseen by htmx.
    """
    busy = ".htmx-request, .htmx-settling, .htmx-swapping, .htmx-added"
    page.wait_for_function(f"() => window.htmx && !document.querySelector('{busy}')")
