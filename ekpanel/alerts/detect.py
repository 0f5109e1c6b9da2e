"""What happened, read from the rows the checks wrote; each event raised once (ekpanel.alerts.events).

After each check (``evaluate_server``):

- **a server started failing**: its last finished check failed. The *episode* is named by its first
  failed check after a good one, the same for whoever computes it, so two workers evaluating at
  once claim the same key. A failure whose cause is Microsoft 365 consent is the consent event.
- **it works again**: the last check is good, and the failure before it was announced.
- **messages "do wyjaśnienia"** and **forged senders rejected**: each message its own key, several
  new ones in one message.

What is told once a day is in ``ekpanel.alerts.daily_events``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ekpanel.alerts.events import raise_event, taken_keys
from ekpanel.alerts.models import AlertEvent, AlertKey
from ekpanel.alerts.settings import AlertSettings
from ekpanel.alerts.topics import EventKind, Topic
from ekpanel.checks.models import HELD_NEEDS_PERSON, Check, Decision, HeldMessage
from ekpanel.extensions import db
from ekpanel.mail.vocabulary import ErrorCode, Outcome, Reason
from ekpanel.servers.models import MailServer
from ekpanel.timeutil import utcnow

FINISHED = (Outcome.OK, Outcome.PARTIAL, Outcome.FAILED)
GOOD = (Outcome.OK, Outcome.PARTIAL)
# Reason.SENDER_FAILED of sender verification ("niezgodny", under the policy Wymagaj): the receiving
# server's DMARC or DKIM says the From is forged.
FORGED_REASON = Reason.SENDER_FAILED
FORGED_LOOKBACK = timedelta(days=3)  # decisions of recent checks; older ones were evaluated then
LISTED_MESSAGES = 20  # a message names at most this many; the count says how many in all

Deliveries = list[int]


# --- after each check --------------------------------------------------------------------------


def evaluate_server(settings: AlertSettings, server_id: int, now: datetime | None = None) -> Deliveries:
    """Raise what the server's latest check means; the new deliveries' ids."""
    now = now or utcnow()
    server = db.session.get(MailServer, server_id)
    if server is None:
        return []
    found: Deliveries = []
    latest = latest_finished(server_id)
    if latest is not None and latest.outcome == Outcome.FAILED:
        found += _failing(settings, server, latest, now)
    elif latest is not None:
        found += _recovered(settings, server, latest, now)
    found += _held_messages(settings, server, now)
    found += _forged_senders(settings, server, now)
    return found


def latest_finished(server_id: int) -> Check | None:
    return db.session.scalar(
        select(Check)
        .where(Check.server_id == server_id, Check.outcome.in_(FINISHED))
        .where(Check.error_code.is_(None) | (Check.error_code != ErrorCode.SERVER_MISSING))
        .order_by(Check.id.desc())
        .limit(1)
    )


def episode_start(server_id: int, failed_check_id: int) -> Check:
    """The first failed check after the last good one before ``failed_check_id``."""
    last_good = db.session.scalar(
        select(func.max(Check.id)).where(
            Check.server_id == server_id, Check.outcome.in_(GOOD), Check.id < failed_check_id
        )
    )
    first_id = db.session.scalar(
        select(func.min(Check.id)).where(
            Check.server_id == server_id,
            Check.outcome == Outcome.FAILED,
            Check.id > (last_good or 0),
            Check.id <= failed_check_id,
        )
    )
    return db.session.get(Check, first_id)


def episode_key(server_id: int, start: Check, what: str) -> str:
    return f"server:{server_id}:episode:{start.id}:{what}"


def server_params(server: MailServer) -> dict:
    return {
        "server_id": server.id,
        "company_id": server.company_id,
        "company": server.company.name,
        "mailbox": server.label,
    }


def _watched(server: MailServer) -> bool:
    """A disabled server, or one of an inactive company, is not checked: nothing to tell."""
    return server.active and server.company.active


def _failing(settings: AlertSettings, server: MailServer, latest: Check, now: datetime) -> Deliveries:
    if not _watched(server):
        return []
    start = episode_start(server.id, latest.id)
    key = episode_key(server.id, start, "start")
    if taken_keys([key]):
        return []
    consent = start.error_code == ErrorCode.CONSENT_MISSING
    params = server_params(server) | {
        "since": start.started_at.isoformat(),
        "error_code": start.error_code,
        "error_note": start.error_note,
        "consent_was_granted": server.consent_granted_at is not None,
    }
    kind, topic = (
        (EventKind.CONSENT_MISSING, Topic.CONSENT)
        if consent
        else (EventKind.SERVER_FAILING, Topic.SERVER_FAILING)
    )
    return (
        raise_event(
            settings, kind, topic, [key], params, company_id=server.company_id, server_id=server.id, now=now
        )
        or []
    )


def start_event(server_id: int, start: Check) -> AlertEvent | None:
    key = db.session.get(AlertKey, episode_key(server_id, start, "start"))
    return db.session.get(AlertEvent, key.event_id) if key is not None else None


def _recovered(settings: AlertSettings, server: MailServer, latest: Check, now: datetime) -> Deliveries:
    last_failed = db.session.scalar(
        select(func.max(Check.id)).where(
            Check.server_id == server.id, Check.outcome == Outcome.FAILED, Check.id < latest.id
        )
    )
    if last_failed is None:
        return []
    start = episode_start(server.id, last_failed)
    announced = start_event(server.id, start)
    if announced is None:  # nobody was told it failed: nobody needs telling it works
        return []
    key = episode_key(server.id, start, "end")
    if taken_keys([key]):
        return []
    params = server_params(server) | {
        "since": start.started_at.isoformat(),
        "recovered_at": latest.started_at.isoformat(),
    }
    return (
        raise_event(
            settings,
            EventKind.SERVER_RECOVERED,
            Topic(announced.topic),
            [key],
            params,
            company_id=server.company_id,
            server_id=server.id,
            now=now,
        )
        or []
    )


def _raise_group(
    settings: AlertSettings,
    server: MailServer,
    kind: EventKind,
    topic: Topic,
    items: list[tuple[str, dict]],
    now,
) -> Deliveries:
    """One event for the items not announced before, each item keyed on its own."""
    for _attempt in range(3):  # another worker may announce some of them meanwhile: look again
        taken = taken_keys([key for key, _item in items])
        new = [(key, item) for key, item in items if key not in taken]
        if not new:
            return []
        params = server_params(server) | {
            "count": len(new),
            "messages": [item for _key, item in new[:LISTED_MESSAGES]],
        }
        raised = raise_event(
            settings, kind, topic, [key for key, _item in new], params,
            company_id=server.company_id, server_id=server.id, now=now,
        )  # fmt: skip
        if raised is not None:
            return raised
    return []


def _held_messages(settings: AlertSettings, server: MailServer, now: datetime) -> Deliveries:
    held = db.session.scalars(
        select(HeldMessage)
        .where(HeldMessage.server_id == server.id, HeldMessage.state == HELD_NEEDS_PERSON)
        .order_by(HeldMessage.id)
    ).all()
    items = []
    for message in held:
        identity = f"{message.folder}\n{message.message_ref}\n{message.first_failed_at.isoformat()}"
        key = f"held:{server.id}:{hashlib.sha256(identity.encode()).hexdigest()[:40]}"
        items.append((key, {
            "folder": message.folder_display,
            "sender": message.sender,
            "subject": (message.subject or "")[:200],
            "received_at": message.received_at.isoformat() if message.received_at else None,
            "error_note": message.error_note,
        }))  # fmt: skip
    return _raise_group(settings, server, EventKind.HELD_MESSAGES, Topic.HELD_MESSAGES, items, now)


def _forged_senders(settings: AlertSettings, server: MailServer, now: datetime) -> Deliveries:
    decisions = db.session.scalars(
        select(Decision)
        .where(
            Decision.server_id == server.id,
            Decision.reason == FORGED_REASON,
            Decision.created_at >= now - FORGED_LOOKBACK,
        )
        .order_by(Decision.id)
    ).all()
    items, seen = [], set()
    for decision in decisions:
        key = f"forged:{server.id}:{decision.message_key}"
        if key in seen:
            continue
        seen.add(key)
        items.append((key, {
            "sender": decision.sender,
            "subject": (decision.subject or "")[:200],
            "received_at": decision.received_at.isoformat() if decision.received_at else None,
        }))  # fmt: skip
    return _raise_group(settings, server, EventKind.FORGED_SENDERS, Topic.FORGED_SENDERS, items, now)


def recently_checked_servers(since: datetime) -> list[int]:
    """Servers whose checks finished since ``since``: the clock's catch-up of lost evaluations."""
    query = select(Check.server_id).where(Check.finished_at >= since).distinct().order_by(Check.server_id)
    return list(db.session.scalars(query))
