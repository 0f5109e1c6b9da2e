"""The Microsoft login/Graph emulator, driven by the real msal and requests as production will drive it.

Why: the Microsoft 365 adapter's tests are only as good as the emulator; these pin down the behaviour they
rely on (msal's discovery and cache, Graph paging, delta tombstones, ids that change on move, throttling).
"""

from __future__ import annotations

import base64
import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import msal
import pytest
import requests

from tests.support.ms_emulator import MsEmulator

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-0000-0000-0000-000000000001"
SECRET = "s3cret~value"
MAILBOX = "faktury@contoso.com"
SCOPES = ["https://graph.microsoft.com/.default"]
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TOKEN_PATH = r"/oauth2/v2\.0/token$"


@pytest.fixture
def emu() -> Iterator[MsEmulator]:
    with MsEmulator() as server:
        server.add_tenant(TENANT, domain="contoso.onmicrosoft.com")
        server.add_app(CLIENT, SECRET, TENANT)
        server.add_mailbox(MAILBOX)
        yield server
        assert server.errors == []


@pytest.fixture
def http(emu: MsEmulator) -> Iterator[requests.Session]:
    """The notes' recipe: REQUESTS_CA_BUNDLE is set on this machine and would override ``verify``."""
    session = requests.Session()
    session.trust_env = False
    session.verify = emu.ca_path
    yield session
    session.close()


def make_app(
    emu: MsEmulator,
    http: requests.Session,
    *,
    client: str = CLIENT,
    secret: str = SECRET,
    tenant: str = TENANT,
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client,
        client_credential=secret,
        authority=f"{emu.login_url}/{tenant}",
        instance_discovery=False,
        azure_region=False,
        http_client=http,
    )


@pytest.fixture
def token(emu: MsEmulator, http: requests.Session) -> str:
    result = make_app(emu, http).acquire_token_for_client(scopes=SCOPES)
    return result["access_token"]


class Graph:
    """A thin Graph client for the tests: absolute links are followed verbatim."""

    def __init__(self, emu: MsEmulator, http: requests.Session, token: str):
        self.base = f"{emu.graph_url}/users/{MAILBOX}"
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}

    def url(self, path: str) -> str:
        return path if path.startswith("https://") else f"{self.base}/{path}"

    def get(self, path: str, **kw) -> requests.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.http.get(self.url(path), headers=headers, **kw)

    def post(self, path: str, body: dict, **kw) -> requests.Response:
        return self.http.post(self.url(path), json=body, headers=self.headers, **kw)

    def all_pages(self, path: str, **kw) -> list[dict]:
        items, url = [], path
        while url:
            resp = self.get(url, **kw)
            assert resp.status_code == 200, resp.text
            body = resp.json()
            items += body["value"]
            url = body.get("@odata.nextLink")
            kw.pop("params", None)
        return items


@pytest.fixture
def graph(emu: MsEmulator, http: requests.Session, token: str) -> Graph:
    return Graph(emu, http, token)


def forwarded_eml() -> bytes:
    inner = EmailMessage()
    inner["From"] = "Dostawca <fv@dostawca.pl>"
    inner["To"] = "biuro@klient.pl"
    inner["Subject"] = "Faktura FV/1/2026"
    inner["Message-ID"] = "<inner-1@dostawca.pl>"
    inner.set_content("W załączeniu faktura.")
    inner.add_attachment(PDF, maintype="application", subtype="pdf", filename="FV_1_2026.pdf")
    outer = EmailMessage()
    outer["From"] = "Klient <biuro@klient.pl>"
    outer["To"] = MAILBOX
    outer["Subject"] = "Fwd: Faktura FV/1/2026"
    outer["Message-ID"] = "<outer-1@klient.pl>"
    outer["Date"] = "Mon, 02 Feb 2026 10:00:00 +0100"
    outer.set_content("Przesyłam dalej.")
    outer.add_attachment(inner)
    return outer.as_bytes()


# ------------------------------------------------------------------------------------------------ login


def test_token_is_issued_once_then_served_from_msal_cache(emu: MsEmulator, http: requests.Session) -> None:
    app = make_app(emu, http)
    first = app.acquire_token_for_client(scopes=SCOPES)
    second = app.acquire_token_for_client(scopes=SCOPES)

    assert first["token_type"] == "Bearer" and first["expires_in"] >= 300
    assert first["token_source"] == "identity_provider"
    assert second["token_source"] == "cache"
    assert second["access_token"] == first["access_token"]
    assert emu.count("POST", TOKEN_PATH) == 1
    assert emu.count("GET", r"/v2\.0/\.well-known/openid-configuration$") == 1


def test_domain_alias_resolves_to_the_tenant(emu: MsEmulator, http: requests.Session) -> None:
    result = make_app(emu, http, tenant="contoso.onmicrosoft.com").acquire_token_for_client(scopes=SCOPES)
    assert "access_token" in result
    assert emu.count("POST", rf"^/{TENANT}/oauth2/v2\.0/token$") == 1


@pytest.mark.parametrize(
    ("setup", "error", "code"),
    [
        ("wrong_secret", "invalid_client", 7000215),
        ("expired_secret", "invalid_client", 7000222),
        ("unknown_client", "unauthorized_client", 700016),
    ],
)
def test_token_errors_come_back_as_msal_dicts(
    emu: MsEmulator, http: requests.Session, setup: str, error: str, code: int
) -> None:
    kwargs = {}
    if setup == "wrong_secret":
        kwargs["secret"] = "not-the-secret"
    elif setup == "expired_secret":
        emu.add_app(CLIENT, SECRET, TENANT, secret_expired=True)
    else:
        kwargs["client"] = "bbbbbbbb-0000-0000-0000-000000000009"
    result = make_app(emu, http, **kwargs).acquire_token_for_client(scopes=SCOPES)

    assert "access_token" not in result
    assert result["error"] == error
    assert result["error_description"].startswith(f"AADSTS{code}:")
    assert result["error_codes"] == [code]


def test_unknown_tenant_makes_the_msal_constructor_raise(emu: MsEmulator, http: requests.Session) -> None:
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        make_app(emu, http, tenant="99999999-9999-9999-9999-999999999999")
    assert emu.count("GET", r"/openid-configuration$") == 1


def test_admin_consent_redirects_and_grants(emu: MsEmulator, http: requests.Session) -> None:
    emu.add_app(CLIENT, SECRET, TENANT, consented=False, redirect_uris=["https://panel.example/ms/consent"])
    no_roles = make_app(emu, http).acquire_token_for_client(scopes=SCOPES)["access_token"]
    denied = Graph(emu, http, no_roles).get("mailFolders")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "ErrorAccessDenied"

    params = {"client_id": CLIENT, "redirect_uri": "https://panel.example/ms/consent", "state": "xyz"}
    emu.consent_answer(error="access_denied")
    resp = http.get(f"{emu.login_url}/{TENANT}/adminconsent", params=params, allow_redirects=False)
    assert resp.status_code == 302
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["xyz"]
    assert not emu.is_consented(CLIENT)

    emu.consent_answer(None)
    resp = http.get(
        f"{emu.login_url}/organizations/v2.0/adminconsent",
        params={**params, "scope": SCOPES[0]},
        allow_redirects=False,
    )
    location = urlsplit(resp.headers["Location"])
    assert resp.status_code == 302 and location.netloc == "panel.example"
    query = parse_qs(location.query)
    assert query["admin_consent"] == ["True"] and query["tenant"] == [TENANT] and query["state"] == ["xyz"]
    assert emu.is_consented(CLIENT)

    # The old token was issued without roles; a fresh one (new msal app, empty cache) works.
    assert Graph(emu, http, no_roles).get("mailFolders").status_code == 403
    fresh = make_app(emu, http).acquire_token_for_client(scopes=SCOPES)["access_token"]
    assert Graph(emu, http, fresh).get("mailFolders").status_code == 200

    bad = http.get(
        f"{emu.login_url}/{TENANT}/adminconsent",
        params={**params, "redirect_uri": "https://evil.example/"},
        allow_redirects=False,
    )
    assert bad.status_code == 400 and "AADSTS50011" in bad.text


# ------------------------------------------------------------------------------------------------ graph


def test_graph_auth_failures(emu: MsEmulator, http: requests.Session, graph: Graph) -> None:
    anonymous = http.get(f"{graph.base}/mailFolders")
    assert anonymous.status_code == 401
    error = anonymous.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken" and "request-id" in error["innerError"]

    emu.add_mailbox("prezes@contoso.com")
    emu.restrict_mailboxes(CLIENT, [MAILBOX])
    other = http.get(f"{emu.graph_url}/users/prezes@contoso.com/mailFolders", headers=graph.headers)
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "ErrorAccessDenied"
    assert other.json()["error"]["message"] == "Access to OData is disabled."
    assert graph.get("mailFolders").status_code == 200

    emu.expire_tokens()
    expired = graph.get("mailFolders")
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_folder_walk_hidden_folders_paging_and_create(emu: MsEmulator, graph: Graph) -> None:
    for n in range(6):
        emu.add_folder(MAILBOX, f"Klient {n}")
    faktury = emu.add_folder(MAILBOX, "Faktury", parent="inbox")
    emu.add_folder(MAILBOX, "2026", parent=faktury)

    first = graph.get("mailFolders").json()
    assert len(first["value"]) == 10 and first["@odata.nextLink"].startswith(emu.graph_url)
    top = graph.all_pages("mailFolders")
    names = [f["displayName"] for f in top]
    assert names[:6] == ["Inbox", "Junk Email", "Deleted Items", "Sent Items", "Drafts", "Archive"]
    assert "Conversation Action Settings" not in names and len(names) == 12
    with_hidden = graph.all_pages("mailFolders", params={"includeHiddenFolders": "true"})
    assert any(f["isHidden"] for f in with_hidden)

    def walk(folder_id: str, prefix: str) -> list[str]:
        out = []
        for child in graph.all_pages(f"mailFolders/{folder_id}/childFolders"):
            path = f"{prefix}/{child['displayName']}"
            out += [path, *walk(child["id"], path)]
        return out

    inbox = graph.get("mailFolders/inbox").json()
    assert inbox["id"] == emu.folder_id(MAILBOX, "inbox") and inbox["childFolderCount"] == 1
    assert walk(inbox["id"], "Inbox") == ["Inbox/Faktury", "Inbox/Faktury/2026"]
    junk = graph.get("mailFolders/JunkEmail").json()
    assert junk["displayName"] == "Junk Email"
    assert graph.get("mailFolders/not-an-id").json()["error"]["code"] == "ErrorInvalidIdMalformed"

    created = graph.post("mailFolders", {"displayName": "Przetworzone"})
    assert created.status_code == 201 and created.json()["displayName"] == "Przetworzone"
    assert emu.folder_id(MAILBOX, "Przetworzone") == created.json()["id"]
    again = graph.post("mailFolders", {"displayName": "przetworzone"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "ErrorFolderExists"
    child = graph.post(f"mailFolders/{faktury}/childFolders", {"displayName": "Przetworzone"})
    assert child.status_code == 201 and child.json()["parentFolderId"] == faktury


def test_message_listing_select_and_next_link(emu: MsEmulator, graph: Graph) -> None:
    for n in range(23):
        emu.add_message(
            MAILBOX,
            "inbox",
            sender=f"Nadawca <n{n}@x.pl>",
            subject=f"FV {n}",
            received=f"2026-01-{n + 1:02d}T10:00:00Z",
        )
    first = graph.get(
        "mailFolders/inbox/messages", params={"$select": "subject,receivedDateTime", "$top": "10"}
    )
    body = first.json()
    assert len(body["value"]) == 10
    assert set(body["value"][0]) == {"@odata.etag", "id", "subject", "receivedDateTime"}
    assert body["value"][0]["subject"] == "FV 22"  # newest first, like Graph
    assert body["@odata.nextLink"].startswith(f"{emu.graph_url}/users/")

    items = graph.all_pages("mailFolders/inbox/messages", params={"$select": "subject", "$top": "10"})
    assert len(items) == 23 and len({i["id"] for i in items}) == 23
    assert emu.count("GET", r"/mailFolders/inbox/messages$") == 4

    full = graph.get(f"messages/{items[0]['id']}").json()
    for key in (
        "receivedDateTime",
        "hasAttachments",
        "internetMessageId",
        "from",
        "sender",
        "parentFolderId",
    ):
        assert key in full
    assert full["from"]["emailAddress"]["address"] == "n22@x.pl" and full["isRead"] is False
    assert emu.messages(MAILBOX, "inbox")[-1]["isRead"] is False  # reading never marks read

    filtered = graph.all_pages(
        "mailFolders/inbox/messages", params={"$filter": "receivedDateTime ge 2026-01-20T00:00:00Z"}
    )
    assert len(filtered) == 4
    bad = graph.get("mailFolders/inbox/messages", params={"$select": "subjekt"})
    assert bad.status_code == 400


def test_move_gives_a_new_id_and_the_old_one_404s(emu: MsEmulator, graph: Graph) -> None:
    old = emu.add_message(MAILBOX, "junkemail", sender="a@b.pl", subject="FV", message_id="fv-1@b.pl")
    inbox = emu.folder_id(MAILBOX, "inbox")

    moved = graph.post(f"messages/{old}/move", {"destinationId": "inbox"})
    assert moved.status_code == 201
    new = moved.json()
    assert new["id"] != old and new["parentFolderId"] == inbox and new["internetMessageId"] == "<fv-1@b.pl>"

    gone = graph.get(f"messages/{old}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "ErrorItemNotFound"
    assert graph.get(f"messages/{new['id']}").status_code == 200
    assert [m["id"] for m in emu.messages(MAILBOX, "inbox")] == [new["id"]]
    assert emu.messages(MAILBOX, "junkemail") == []


def test_throttled_move_carries_retry_after(emu: MsEmulator, graph: Graph) -> None:
    msg = emu.add_message(MAILBOX, "inbox", sender="a@b.pl", subject="FV")
    emu.fail_next(r"/move$", 429, retry_after=2, times=2)

    for _ in range(2):
        throttled = graph.post(f"messages/{msg}/move", {"destinationId": "archive"})
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
        assert throttled.json()["error"]["code"] == "ApplicationThrottled"
    assert graph.post(f"messages/{msg}/move", {"destinationId": "archive"}).status_code == 201
    assert emu.count("POST", r"/move$") == 3

    emu.fail_next(r"/mailFolders$", 503, method="GET")
    assert graph.get("mailFolders").status_code == 503
    assert graph.get("mailFolders").status_code == 200


def test_delta_pages_then_reports_additions_and_removals(emu: MsEmulator, graph: Graph) -> None:
    ids = [emu.add_message(MAILBOX, "inbox", sender="a@b.pl", subject=f"FV {n}") for n in range(3)]
    prefer = {"Prefer": "odata.maxpagesize=2"}

    page1 = graph.get(
        "mailFolders/inbox/messages/delta", params={"$select": "subject"}, headers=prefer
    ).json()
    assert len(page1["value"]) == 2 and "@odata.deltaLink" not in page1
    assert "$skiptoken=" in page1["@odata.nextLink"]
    page2 = graph.get(page1["@odata.nextLink"], headers=prefer).json()
    assert len(page2["value"]) == 1 and "@odata.nextLink" not in page2
    assert {m["id"] for m in page1["value"] + page2["value"]} == set(ids)
    assert set(page2["value"][0]) == {"@odata.type", "@odata.etag", "id", "subject"}
    delta_link = page2["@odata.deltaLink"]
    assert "$deltatoken=" in delta_link

    moved = graph.post(f"messages/{ids[0]}/move", {"destinationId": "archive"}).json()["id"]
    added = emu.add_message(MAILBOX, "inbox", sender="a@b.pl", subject="FV new")

    changes = graph.get(delta_link).json()
    assert changes["value"][0]["id"] == added and changes["value"][0]["subject"] == "FV new"
    assert changes["value"][1] == {
        "@odata.type": "#microsoft.graph.message",
        "id": ids[0],
        "@removed": {"reason": "deleted"},
    }
    assert len(changes["value"]) == 2
    assert graph.get(changes["@odata.deltaLink"]).json()["value"] == []

    archive = emu.folder_id(MAILBOX, "archive")
    token = delta_link.split("$deltatoken=")[1]
    foreign = graph.get(f"mailFolders/{archive}/messages/delta", params={"$deltatoken": token})
    assert foreign.status_code == 400
    archive_delta = graph.all_pages(f"mailFolders/{archive}/messages/delta")
    assert [m["id"] for m in archive_delta] == [moved]

    emu.expire_delta_links()
    assert graph.get(delta_link).status_code == 410


def test_attachments_list_without_bytes_and_value(emu: MsEmulator, graph: Graph) -> None:
    logo = b"\x89PNG\r\n\x1a\nfake"
    msg = emu.add_message(
        MAILBOX,
        "inbox",
        sender="a@b.pl",
        subject="FV",
        attachments=[
            {"name": "FV 1.pdf", "content_type": "application/pdf", "content": PDF},
            {"name": "logo.png", "content_type": "image/png", "content": logo, "is_inline": True},
        ],
    )
    inline_only = emu.add_message(
        MAILBOX,
        "inbox",
        sender="a@b.pl",
        subject="Stopka",
        attachments=[{"name": "logo.png", "content_type": "image/png", "content": logo, "is_inline": True}],
    )
    assert graph.get(f"messages/{msg}").json()["hasAttachments"] is True
    assert graph.get(f"messages/{inline_only}").json()["hasAttachments"] is False

    listing = graph.get(
        f"messages/{msg}/attachments", params={"$select": "id,name,contentType,size,isInline"}
    ).json()["value"]
    assert [a["name"] for a in listing] == ["FV 1.pdf", "logo.png"]
    assert all("contentBytes" not in a for a in listing)
    assert listing[0]["@odata.type"] == "#microsoft.graph.fileAttachment"
    assert listing[0]["size"] == len(PDF) and listing[1]["isInline"] is True

    raw = graph.get(f"messages/{msg}/attachments/{listing[0]['id']}/$value")
    assert raw.status_code == 200 and raw.content == PDF
    assert raw.headers["Content-Type"].startswith("application/pdf")
    single = graph.get(f"messages/{msg}/attachments/{listing[0]['id']}").json()
    assert base64.b64decode(single["contentBytes"]) == PDF


def test_raw_message_item_attachment_value_is_mime(emu: MsEmulator, graph: Graph) -> None:
    msg = emu.add_raw_message(MAILBOX, "inbox", forwarded_eml())
    doc = graph.get(f"messages/{msg}").json()
    assert doc["subject"] == "Fwd: Faktura FV/1/2026"
    assert doc["from"]["emailAddress"] == {"name": "Klient", "address": "biuro@klient.pl"}
    assert doc["internetMessageId"] == "<outer-1@klient.pl>"
    assert doc["receivedDateTime"] == "2026-02-02T09:00:00Z" and doc["hasAttachments"] is True

    (item,) = graph.get(f"messages/{msg}/attachments").json()["value"]
    assert item["@odata.type"] == "#microsoft.graph.itemAttachment" and "contentBytes" not in item
    assert item["name"] == "Faktura FV/1/2026"
    mime = graph.get(f"messages/{msg}/attachments/{item['id']}/$value")
    assert mime.status_code == 200
    inner = email.message_from_bytes(mime.content, policy=email.policy.default)
    assert inner["Message-ID"] == "<inner-1@dostawca.pl>"
    pdfs = [p for p in inner.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert [p.get_filename() for p in pdfs] == ["FV_1_2026.pdf"] and pdfs[0].get_content() == PDF


def test_attachments_of_one_message_fail_while_the_others_answer(emu: MsEmulator, graph: Graph) -> None:
    pdf = [{"name": "FV.pdf", "content_type": "application/pdf", "content": PDF}]
    broken = emu.add_message(MAILBOX, "inbox", sender="a@b.pl", subject="zepsuta", attachments=pdf)
    healthy = emu.add_message(MAILBOX, "inbox", sender="a@b.pl", subject="zdrowa", attachments=pdf)
    [broken_pdf] = graph.get(f"messages/{broken}/attachments").json()["value"]
    emu.fail_attachments(MAILBOX, broken, 500)

    for path in ("attachments", f"attachments/{broken_pdf['id']}", f"attachments/{broken_pdf['id']}/$value"):
        failed = graph.get(f"messages/{broken}/{path}")
        assert failed.status_code == 500, path
        error = failed.json()["error"]
        assert error["code"] == "InternalServerError" and error["message"], path
    assert graph.get(f"messages/{broken}").status_code == 200  # the message itself still reads
    [healthy_pdf] = graph.get(f"messages/{healthy}/attachments").json()["value"]
    assert graph.get(f"messages/{healthy}/attachments/{healthy_pdf['id']}/$value").content == PDF

    moved = graph.post(f"messages/{broken}/move", {"destinationId": "archive"}).json()["id"]
    assert graph.get(f"messages/{moved}/attachments").status_code == 500  # the fault follows the message

    emu.clear_faults()
    assert graph.get(f"messages/{moved}/attachments").status_code == 200

    emu.fail_attachments(MAILBOX, healthy, 503, code="ServiceNotAvailable", times=1)
    assert graph.get(f"messages/{healthy}/attachments").json()["error"]["code"] == "ServiceNotAvailable"
    assert graph.get(f"messages/{healthy}/attachments").status_code == 200  # healed after one request


SIGNED_EML = (
    b"Received: from mx.dostawca.pl (mx.dostawca.pl [192.0.2.7])\r\n"
    b"\tby mx.contoso.com with ESMTPS; Mon, 2 Feb 2026 10:00:02 +0100\r\n"
    b"Authentication-Results: mx.contoso.com;\r\n"
    b" spf=pass smtp.mailfrom=dostawca.pl;\r\n"
    b" dkim=pass header.d=dostawca.pl\r\n"
    b"Received: from app.dostawca.pl by mx.dostawca.pl; Mon, 2 Feb 2026 10:00:01 +0100\r\n"
    b"Authentication-Results: mx.dostawca.pl; dmarc=none\r\n"
    b"From: Dostawca <fv@dostawca.pl>\r\n"
    b"To: faktury@contoso.com\r\n"
    b"Subject: =?utf-8?q?Faktura_za_us=C5=82ug=C4=99?=\r\n"
    b"Date: Mon, 02 Feb 2026 10:00:00 +0100\r\n"
    b"Message-ID: <signed-1@dostawca.pl>\r\n"
    b"\r\n"
    b"Not-A-Header: the body starts above\r\n"
)
SIGNED_HEADERS = [
    {
        "name": "Received",
        "value": "from mx.dostawca.pl (mx.dostawca.pl [192.0.2.7])\tby mx.contoso.com with ESMTPS; "
        "Mon, 2 Feb 2026 10:00:02 +0100",
    },
    {
        "name": "Authentication-Results",
        "value": "mx.contoso.com; spf=pass smtp.mailfrom=dostawca.pl; dkim=pass header.d=dostawca.pl",
    },
    {"name": "Received", "value": "from app.dostawca.pl by mx.dostawca.pl; Mon, 2 Feb 2026 10:00:01 +0100"},
    {"name": "Authentication-Results", "value": "mx.dostawca.pl; dmarc=none"},
    {"name": "From", "value": "Dostawca <fv@dostawca.pl>"},
    {"name": "To", "value": "faktury@contoso.com"},
    {"name": "Subject", "value": "=?utf-8?q?Faktura_za_us=C5=82ug=C4=99?="},
    {"name": "Date", "value": "Mon, 02 Feb 2026 10:00:00 +0100"},
    {"name": "Message-ID", "value": "<signed-1@dostawca.pl>"},
]


def test_internet_message_headers_come_in_order_only_when_selected(emu: MsEmulator, graph: Graph) -> None:
    msg = emu.add_raw_message(MAILBOX, "inbox", SIGNED_EML)

    alone = graph.get(f"messages/{msg}", params={"$select": "internetMessageHeaders"}).json()
    assert alone["internetMessageHeaders"] == SIGNED_HEADERS
    assert set(alone) == {"@odata.context", "@odata.etag", "id", "internetMessageHeaders"}
    assert "internetMessageHeaders" not in graph.get(f"messages/{msg}").json()

    [listed] = graph.get(
        "mailFolders/inbox/messages", params={"$select": "subject,internetMessageHeaders"}
    ).json()["value"]
    assert listed["subject"] == "Faktura za usługę" and listed["internetMessageHeaders"] == SIGNED_HEADERS
    [plain] = graph.get("mailFolders/inbox/messages").json()["value"]
    assert "internetMessageHeaders" not in plain

    first = graph.get(
        "mailFolders/inbox/messages/delta", params={"$select": "internetMessageHeaders,subject"}
    ).json()
    assert [m["internetMessageHeaders"] for m in first["value"]] == [SIGNED_HEADERS]
    added = emu.add_message(
        MAILBOX, "inbox", sender="Inny <inny@x.pl>", subject="FV 2", message_id="fv-2@x.pl"
    )
    [new] = graph.get(first["@odata.deltaLink"]).json()["value"]  # the link keeps the $select
    assert new["id"] == added
    fields = {h["name"]: h["value"] for h in new["internetMessageHeaders"]}
    assert fields["From"] == "Inny <inny@x.pl>" and fields["Message-ID"] == "<fv-2@x.pl>"
    assert fields["Subject"] == "FV 2" and fields["To"] == MAILBOX


def test_stop_leaves_no_threads_and_no_listener() -> None:
    before = set(threading.enumerate())
    with MsEmulator() as server:
        server.add_app(CLIENT, SECRET, TENANT)
        session = requests.Session()
        session.trust_env = False
        session.verify = server.ca_path
        with session:
            url = f"{server.login_url}/{TENANT}/v2.0/.well-known/openid-configuration"
            assert session.get(url).status_code == 200
        port = server.port
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
