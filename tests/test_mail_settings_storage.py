"""Mail settings from the Flask config, and the content-addressed PDF store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ekpanel.documents.storage import PdfWriter, pdf_path, store_pdf
from ekpanel.mail.settings import MailSettings
from ekpanel.mail.tls import client_context


def test_mail_settings_come_from_the_ekpanel_config_keys(tmp_path):
    settings = MailSettings.from_config(
        {
            "TIMEZONE": "Europe/Warsaw",
            "MAX_PDF_MB": 2,
            "IMAP_TIMEOUT": 7.5,
            "CA_BUNDLE": "",
            "MS_LOGIN_URL": "https://login.example/",
            "GRAPH_URL": "https://graph.example/v1.0",
            "STORAGE_DIR": str(tmp_path),
            "LOG_DAYS": 30,
        }
    )
    assert settings == MailSettings(
        timezone="Europe/Warsaw",
        max_pdf_bytes=2 * 1024 * 1024,
        imap_timeout=7.5,
        ca_bundle=None,
        ms_login_url="https://login.example",
        graph_url="https://graph.example/v1.0",
        storage_dir=tmp_path,
        log_days=30,
    )


def test_tls_context_always_verifies_and_adds_the_bundle(dovecot):
    context = client_context(str(dovecot.ca_path))
    assert context.check_hostname and context.verify_mode.name == "CERT_REQUIRED"
    assert any("trustme" in str(ca["subject"]) for ca in context.get_ca_certs())
    assert client_context(None).check_hostname


def test_pdf_is_stored_once_under_its_hash(tmp_path):
    data = b"%PDF-1.4 test"
    sha = store_pdf(data, tmp_path)

    assert sha == hashlib.sha256(data).hexdigest()
    path = pdf_path(sha, tmp_path)
    assert path == tmp_path / sha[:2] / sha[2:4] / f"{sha}.pdf"
    assert path.read_bytes() == data
    assert store_pdf(data, tmp_path) == sha
    assert [p.name for p in Path(tmp_path).rglob("*") if p.is_file()] == [f"{sha}.pdf"]  # no temp files left


def test_pdf_path_refuses_anything_but_a_hash(tmp_path):
    with pytest.raises(ValueError):
        pdf_path("../../etc/passwd", tmp_path)


def test_writer_stores_on_threads_and_wait_returns_once_every_pdf_is_on_disk(tmp_path):
    datas = [b"%PDF-1.4 " + bytes([i]) * 50_000 for i in range(20)]

    with PdfWriter(tmp_path, threads=4, max_pending_bytes=200_000) as writer:
        futures = [writer.store(data) for data in datas]
        writer.wait()
        assert all(future.done() for future in futures)

    assert [pdf_path(f.result(), tmp_path).read_bytes() for f in futures] == datas


def test_writer_wait_raises_what_storing_raised(tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_bytes(b"")

    with PdfWriter(blocked) as writer:
        writer.store(b"%PDF-1.4 x")
        with pytest.raises(OSError):
            writer.wait()
