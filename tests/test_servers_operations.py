"""The rules behind the servers page: collisions, warnings, field parsing, deletion."""

from datetime import date, timedelta

import pytest

from ekpanel.checks.models import Check
from ekpanel.documents.models import Document
from ekpanel.extensions import db
from ekpanel.servers.forms import is_guid, is_tenant, parse_folders
from ekpanel.servers.models import MailServer
from ekpanel.servers.operations import (
    ServerValues,
    delete_server,
    find_collisions,
    folders_with,
    save_server,
    server_warnings,
)
from tests.factories import make_company, make_graph_server, make_imap_server

# --- field parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("aaaaaaaa-0000-0000-0000-000000000001", True),
        ("AAAAAAAA-0000-0000-0000-00000000000F", True),
        (" aaaaaaaa-0000-0000-0000-000000000001 ", True),
        ("aaaaaaaa00000000000000000000000001", False),
        ("aaaaaaaa-0000-0000-0000-00000000000g", False),
        ("contoso.onmicrosoft.com", False),
    ],
)
def test_application_id_must_be_a_guid(value, valid):
    assert is_guid(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("11111111-2222-3333-4444-555555555555", True),
        ("contoso.onmicrosoft.com", True),
        ("biuro-rachunkowe.pl", True),
        ("contoso", False),
        ("https://login.microsoftonline.com/contoso.onmicrosoft.com", False),
        ("common organizations", False),
    ],
)
def test_tenant_is_a_guid_or_a_domain(value, valid):
    assert is_tenant(value) is valid


def test_folders_are_one_per_line_trimmed_without_duplicates():
    assert parse_folders(" INBOX \n\nspam\nINBOX\nFaktury/2026\n") == ["INBOX", "spam", "Faktury/2026"]


def test_folder_names_with_polish_letters_compare_composed():
    decomposed = "Wiadomos\u0301ci-s\u0301mieci"
    assert parse_folders(f"Wiadomości-śmieci\n{decomposed}") == ["Wiadomości-śmieci"]


def test_adding_a_folder_appends_it_once():
    assert folders_with("INBOX\nspam", "Faktury") == "INBOX\nspam\nFaktury"
    assert folders_with("INBOX\nspam\n", "spam") == "INBOX\nspam"
    assert folders_with("", "INBOX.Wiadomości-śmieci") == "INBOX.Wiadomości-śmieci"


# --- collisions -------------------------------------------------------------------------------


def test_collision_names_the_other_company_and_the_overlapping_entries(app):
    ours, theirs = make_company("Alfa"), make_company("Beta")
    other = make_imap_server(theirs, whitelist=["*@dostawca.pl"], folders=["INBOX", "spam"])
    mine = make_imap_server(ours, whitelist=["faktury@dostawca.pl", "jan@inny.pl"], folders=["inbox"])

    [collision] = find_collisions(mine)

    assert collision.company.name == "Beta"
    assert collision.server.id == other.id
    assert collision.folders == ["inbox"]
    assert collision.entries == [("faktury@dostawca.pl", "*@dostawca.pl")]


def test_same_host_and_user_match_whatever_their_case(app):
    make_imap_server(
        make_company("Beta"), host="IMAP.biuro.pl", username="Faktury@Biuro.pl", whitelist=["*@x.pl"]
    )
    mine = make_imap_server(make_company("Alfa"), whitelist=["a@x.pl"])
    assert len(find_collisions(mine)) == 1


def test_spam_and_junk_count_as_the_same_folder(app):
    make_imap_server(make_company("Beta"), whitelist=["*@x.pl"], folders=["Junk"])
    mine = make_imap_server(make_company("Alfa"), whitelist=["a@x.pl"], folders=["spam"])
    assert len(find_collisions(mine)) == 1


@pytest.mark.parametrize(
    ("their_server", "their_whitelist", "their_folders"),
    [
        ({"host": "imap.inny.pl"}, ["*@x.pl"], ["INBOX"]),  # another mailbox
        ({"username": "kadry@biuro.pl"}, ["*@x.pl"], ["INBOX"]),  # another user on the same host
        ({}, ["*@y.pl"], ["INBOX"]),  # no common sender
        ({}, ["*@x.pl"], ["Faktury"]),  # no common folder
        ({}, [], ["INBOX"]),  # they take nothing
    ],
)
def test_no_collision_without_same_mailbox_folder_and_sender(
    app, their_server, their_whitelist, their_folders
):
    make_imap_server(make_company("Beta"), whitelist=their_whitelist, folders=their_folders, **their_server)
    mine = make_imap_server(make_company("Alfa"), whitelist=["*@x.pl"], folders=["INBOX"])
    assert find_collisions(mine) == []


def test_servers_of_the_same_company_do_not_collide(app):
    company = make_company("Alfa")
    make_imap_server(company, whitelist=["*@x.pl"])
    mine = make_imap_server(company, whitelist=["*@x.pl"])
    assert find_collisions(mine) == []


def test_disabled_server_of_another_company_does_not_collide(app):
    make_imap_server(make_company("Beta"), whitelist=["*@x.pl"], active=False)
    mine = make_imap_server(make_company("Alfa"), whitelist=["*@x.pl"])
    assert find_collisions(mine) == []


def test_outlook_servers_collide_on_tenant_and_mailbox(app):
    make_graph_server(make_company("Beta"), mailbox="Faktury@Contoso.com", whitelist=["*@*.pl"])
    mine = make_graph_server(
        make_company("Alfa"), mailbox="faktury@contoso.com", whitelist=["faktury@dostawca.pl"]
    )
    imap_twin = make_imap_server(
        make_company("Gamma"), host="outlook.office365.com", username="faktury@contoso.com"
    )
    [collision] = find_collisions(mine)
    assert collision.company.name == "Beta"
    assert collision.entries == [("faktury@dostawca.pl", "*@*.pl")]
    assert find_collisions(imap_twin) == []


# --- warnings ---------------------------------------------------------------------------------


def test_warnings_for_empty_whitelist_missing_consent_and_expiring_secret(app):
    today = date(2026, 11, 24)
    server = make_graph_server(
        make_company("Alfa"), whitelist=(), secret_expires_on=today + timedelta(days=30)
    )
    assert server_warnings(server, today) == ["secret_expiring", "consent_missing", "whitelist_empty"]


@pytest.mark.parametrize(
    ("days_left", "warning"),
    [(31, None), (30, "secret_expiring"), (0, "secret_expiring"), (-1, "secret_expired")],
)
def test_secret_warning_starts_thirty_days_ahead(app, days_left, warning):
    today = date(2026, 11, 24)
    server = make_graph_server(
        make_company("Alfa"), whitelist=["*@x.pl"], secret_expires_on=today + timedelta(days=days_left)
    )
    server.consent_granted_at = server.created_at
    assert server_warnings(server, today) == ([warning] if warning else [])


def test_imap_server_with_whitelist_needs_nothing(app):
    server = make_imap_server(make_company("Alfa"), whitelist=["*@x.pl"])
    assert server_warnings(server, date(2026, 11, 24)) == []


# --- saving and deleting ----------------------------------------------------------------------


def test_new_application_or_tenant_needs_consent_again(app):
    server = make_graph_server(make_company("Alfa"))
    server.consent_granted_at = server.created_at
    values = ServerValues(
        protocol="graph",
        name="Outlook biura",
        client_id="bbbbbbbb-0000-0000-0000-000000000002",
        tenant=server.tenant,
        mailbox_address=server.mailbox_address,
        whitelist=[],
        folders=["INBOX"],
    )
    save_server(server, server.company, values)
    assert server.consent_granted_at is None
    assert server.secret_encrypted  # an empty secret keeps the stored one


def test_switching_protocol_drops_the_other_protocols_fields_and_secret(app):
    server = make_graph_server(make_company("Alfa"))
    values = ServerValues(
        protocol="imap",
        host="imap.biuro.pl",
        port=143,
        encryption="starttls",
        username="u",
        whitelist=[],
        folders=["INBOX"],
    )
    save_server(server, server.company, values)
    assert (server.client_id, server.tenant, server.mailbox_address, server.name) == (None, None, None, None)
    assert server.secret_encrypted is None


def test_deleting_a_server_keeps_its_documents_and_their_server_name(app):
    company = make_company("Alfa")
    server = make_imap_server(company)
    check = Check(server_id=server.id, trigger="cli")
    db.session.add(check)
    db.session.flush()
    document = Document(
        company_id=company.id,
        server_id=server.id,
        check_id=check.id,
        message_key="k",
        filename="fv.pdf",
        size=10,
        sha256="0" * 64,
    )
    db.session.add(document)
    db.session.commit()
    server_id, check_id = server.id, check.id

    delete_server(server)
    db.session.commit()

    db.session.refresh(document)
    assert db.session.get(MailServer, server_id) is None
    assert db.session.get(Check, check_id) is None
    assert (document.server_id, document.check_id) == (None, None)
    assert document.server_label == "faktury@biuro.pl (imap.biuro.pl)"


@pytest.mark.parametrize(
    ("values", "label"),
    [
        ({"username": "biuro@ksiegowa.example", "host": "127.0.0.1"}, "biuro@ksiegowa.example (127.0.0.1)"),
        ({"username": "faktury", "host": "imap.biuro.pl"}, "faktury (imap.biuro.pl)"),
        ({"username": None, "host": "imap.biuro.pl"}, "imap.biuro.pl"),
        ({"name": "Poczta biura", "username": "faktury", "host": "imap.biuro.pl"}, "Poczta biura"),
        ({"protocol": "graph", "mailbox_address": "faktury@contoso.com"}, "faktury@contoso.com"),
    ],
)
def test_server_label_does_not_read_as_a_broken_address(values, label):
    assert MailServer(**({"protocol": "imap"} | values)).label == label
