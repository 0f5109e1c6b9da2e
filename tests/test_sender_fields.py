"""The sender verification's glue in the mail core: reading the fields as each mailbox gets them, and
what a verdict decides (``ekpanel.mail.sender``, ``ekpanel.mail.decide``), without a server."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from ekpanel.mail.authres import SenderVerdict
from ekpanel.mail.authres.verdict import MAX_FIELDS_READ
from ekpanel.mail.decide import decide_all, message_key
from ekpanel.mail.mailbox import AttachmentPart, MessageSummary, RemoteFolder
from ekpanel.mail.sender import (
    SenderSettings,
    fields_from_graph,
    fields_from_header_block,
    judge,
    verdict_note,
)
from ekpanel.mail.vocabulary import Decision, Reason, SenderPolicy
from ekpanel.mail.whitelist import SenderWhitelist

OURS = "mx.biuro.test"
PASS = f"{OURS}; dkim=pass header.d=dostawca.pl; dmarc=pass header.from=dostawca.pl"
FAIL = f"{OURS}; dkim=fail header.d=dostawca.pl; dmarc=fail header.from=dostawca.pl"
REQUIRE = SenderSettings(SenderPolicy.REQUIRE, OURS)
FOLDER = RemoteFolder("INBOX", "INBOX")
PDF = b"%PDF-1.4\n% faktura\n%%EOF\n"


# --- reading the fields ---------------------------------------------------------------------------


def test_imap_header_block_gives_every_field_unfolded_in_order():
    block = (
        b"Authentication-Results: mx.biuro.test;\r\n\tdkim=pass header.d=dostawca.pl;\r\n dmarc=pass\r\n"
        b"authentication-results:inny.example; spf=none\r\n"
        b"\r\n"
    )
    assert fields_from_header_block(block) == (
        "mx.biuro.test;\tdkim=pass header.d=dostawca.pl; dmarc=pass",
        "inny.example; spf=none",
    )
    assert fields_from_header_block(b"") == ()
    assert fields_from_header_block(b"ARC-Authentication-Results: i=1; mx.google.com; dmarc=pass\r\n") == ()


@given(st.binary(max_size=2000))
def test_any_header_block_gives_text_fields_and_never_more_than_the_verdict_reads(raw):
    fields = fields_from_header_block(raw)
    assert isinstance(fields, tuple) and len(fields) <= MAX_FIELDS_READ
    assert all(isinstance(value, str) and "\n" not in value.strip("\r") for value in fields)


_VALUE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=60)


@given(st.lists(_VALUE, max_size=8))
def test_fields_written_into_a_block_are_read_back(values):
    block = "".join(f"Authentication-Results: {value}\r\n" for value in values).encode() + b"\r\n"
    assert fields_from_header_block(block) == tuple(values)


def test_a_message_with_thousands_of_fields_costs_only_the_first_ones():
    block = b"Authentication-Results: x; none\r\n" * 10_000
    assert len(fields_from_header_block(block)) == MAX_FIELDS_READ


def test_graph_headers_give_only_authentication_results_in_their_order():
    headers = [
        {"name": "Received", "value": "from a by b"},
        {"name": "Authentication-Results", "value": "spf=pass smtp.mailfrom=dostawca.pl"},
        {"name": "ARC-Authentication-Results", "value": "i=1; mx.microsoft.com 1; dmarc=pass"},
        {"name": "authentication-results", "value": "mx.brama.example; dmarc=pass"},
        {"value": "no name"},
        "not a header",
    ]
    assert fields_from_graph(headers) == (
        "spf=pass smtp.mailfrom=dostawca.pl",
        "mx.brama.example; dmarc=pass",
    )
    assert fields_from_graph(None) == () and fields_from_graph({"name": "x"}) == ()


# --- what a verdict decides -----------------------------------------------------------------------


class PartsMailbox:
    """Only what ``decide_all`` asks of a mailbox: the bytes of parts, each download recorded."""

    def __init__(self):
        self.fetched: list[str] = []

    def fetch_parts(self, folder, wanted):
        self.fetched += [message.ref for message, _part in wanted]
        return [PDF for _wanted in wanted]

    def forget(self, message):
        pass


def summary(ref: str, *fields: str, sender: str = "faktury@dostawca.pl", pdf: bool = True) -> MessageSummary:
    parts = [AttachmentPart("2", "faktura.pdf", "application/pdf", len(PDF), "base64", "attachment")]
    return MessageSummary(
        ref=ref,
        message_id=f"{ref}@dostawca.pl",
        sender=sender,
        subject=f"Faktura {ref}",
        received_at=datetime(2026, 12, 1, tzinfo=UTC),
        header_hash=ref,
        parts=parts if pdf else [],
        has_attachments=pdf,
        authentication_results=tuple(fields),
    )


def decide(messages, sender: SenderSettings, allowed=frozenset()):
    mailbox = PartsMailbox()
    whitelist = SenderWhitelist(["*@dostawca.pl"])
    verdicts = dict(
        (message.ref, verdict)
        for message, verdict in decide_all(
            mailbox, FOLDER, messages, whitelist, 10_000_000, sender=sender, allowed_keys=allowed
        )
    )
    return verdicts, mailbox.fetched


def test_require_skips_before_any_pdf_is_downloaded():
    verdicts, fetched = decide([summary("1", PASS), summary("2", FAIL), summary("3")], REQUIRE)

    assert fetched == ["1"]
    assert verdicts["1"].decision == Decision.TAKEN and verdicts["1"].sender_check.verdict == "confirmed"
    assert (verdicts["2"].reason, verdicts["3"].reason) == (Reason.SENDER_FAILED, Reason.SENDER_UNCONFIRMED)
    assert verdicts["2"].detail.polish() == f"DMARC fail dla domeny dostawca.pl ({OURS})"


def test_an_allowed_message_is_taken_and_says_so():
    failed = summary("2", FAIL)
    verdicts, fetched = decide([failed], REQUIRE, frozenset({message_key(failed)}))

    assert fetched == ["2"]
    assert verdicts["2"].decision == Decision.TAKEN and verdicts["2"].allowed_anyway
    assert verdicts["2"].sender_check.verdict == SenderVerdict.FAILED


def test_mark_takes_all_and_off_reads_no_verdict():
    marked, _ = decide([summary("1", PASS), summary("2", FAIL)], SenderSettings(SenderPolicy.MARK, OURS))
    assert [(v.decision, v.sender_check.verdict) for v in marked.values()] == [
        ("taken", "confirmed"),
        ("taken", "failed"),
    ]
    off, _ = decide([summary("1", PASS)], SenderSettings())
    assert off["1"].decision == Decision.TAKEN and off["1"].sender_check is None


def test_no_verdict_is_read_for_mail_the_whitelist_or_a_missing_pdf_settles():
    class Untouchable(MessageSummary):
        @property
        def authentication_results(self):
            raise AssertionError("read the fields of a message that needs no verdict")

        @authentication_results.setter
        def authentication_results(self, value):
            pass

    stranger = Untouchable(
        **{**vars(summary("1", sender="ktos@obcy.example")), "authentication_results": None}
    )
    no_pdf = Untouchable(**{**vars(summary("2", pdf=False)), "authentication_results": None})
    verdicts, _ = decide([stranger, no_pdf], REQUIRE)
    assert (verdicts["1"].reason, verdicts["2"].reason) == (Reason.SENDER, Reason.NO_ATTACHMENT)


def test_microsoft_settings_judge_exchanges_field_and_name_it():
    exchange = (
        "spf=pass smtp.mailfrom=dostawca.pl; dkim=none header.d=none; dmarc=fail header.from=dostawca.pl"
    )
    check = judge(summary("1", exchange), SenderSettings(SenderPolicy.REQUIRE, None, microsoft=True))
    assert check.verdict == SenderVerdict.FAILED
    assert verdict_note(check).polish() == "DMARC fail dla domeny dostawca.pl (Exchange Online)"
