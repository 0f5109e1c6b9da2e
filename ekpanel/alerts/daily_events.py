"""What is told once a day, at EKPANEL_DIGEST_TIME (``daily``), read from the rows the checks wrote;
each event raised once (ekpanel.alerts.events): a reminder per server still failing, client secrets that
expire within 30, 7 or 1 days, and each person's digest of new documents.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select

from ekpanel.accounts.models import User
from ekpanel.alerts.detect import (
    Deliveries,
    episode_key,
    episode_start,
    latest_finished,
    server_params,
    start_event,
)
from ekpanel.alerts.events import raise_event
from ekpanel.alerts.models import AlertEvent
from ekpanel.alerts.recipients import recipients
from ekpanel.alerts.settings import AlertSettings
from ekpanel.alerts.topics import EventKind, Topic
from ekpanel.checks.models import HELD_NEEDS_PERSON, HeldMessage
from ekpanel.companies.models import Company
from ekpanel.documents.models import Document
from ekpanel.documents.warnings import WarningCode
from ekpanel.extensions import db
from ekpanel.invoices import Status
from ekpanel.mail.vocabulary import Outcome
from ekpanel.servers.models import MailServer
from ekpanel.timeutil import utcnow

SECRET_WARNING_DAYS = (1, 7, 30)


def daily(settings: AlertSettings, slot: datetime, now: datetime | None = None) -> Deliveries:
    """The day's events for the slot (aware, at EKPANEL_DIGEST_TIME): reminders, secrets, digests."""
    now = now or utcnow()
    day = slot.astimezone(ZoneInfo(settings.timezone)).date()
    found = []
    found += reminders(settings, day, now)
    found += expiring_secrets(settings, day, now)
    found += digests(settings, slot, now)
    return found


def _watched_servers(*conditions) -> list[MailServer]:
    query = (
        select(MailServer)
        .join(Company, MailServer.company_id == Company.id)
        .where(MailServer.active.is_(True), Company.active.is_(True), *conditions)
        .order_by(MailServer.id)
    )
    return list(db.session.scalars(query))


def reminders(settings: AlertSettings, day: date, now: datetime) -> Deliveries:
    """One a day per server still failing, from the day after its failure was announced."""
    found = []
    zone = ZoneInfo(settings.timezone)
    for server in _watched_servers():
        latest = latest_finished(server.id)
        if latest is None or latest.outcome != Outcome.FAILED:
            continue
        start = episode_start(server.id, latest.id)
        announced = start_event(server.id, start)
        if announced is None or _local_date(announced.created_at, zone) >= day:
            continue
        params = server_params(server) | {
            "since": start.started_at.isoformat(),
            "last_check_at": latest.started_at.isoformat(),
            "error_code": latest.error_code,
            "error_note": latest.error_note,
        }
        key = episode_key(server.id, start, f"reminder:{day.isoformat()}")
        found += raise_event(
            settings, EventKind.SERVER_REMINDER, Topic(announced.topic), [key], params,
            company_id=server.company_id, server_id=server.id, now=now,
        ) or []  # fmt: skip
    return found


def expiring_secrets(settings: AlertSettings, day: date, now: datetime) -> Deliveries:
    """An Outlook 365 client secret that expires within 30, 7 or 1 days: once per step, per date.

    A secret first seen 5 days before its expiry gets the 7-day message only, not the 30-day one too.
    """
    found = []
    for server in _watched_servers(MailServer.secret_expires_on.is_not(None)):
        days_left = (server.secret_expires_on - day).days
        steps = [step for step in SECRET_WARNING_DAYS if days_left <= step]
        if not steps:
            continue
        key = f"secret:{server.id}:{server.secret_expires_on.isoformat()}:{steps[0]}"
        params = server_params(server) | {
            "expires_on": server.secret_expires_on.isoformat(),
            "days_left": days_left,
        }
        found += raise_event(
            settings, EventKind.SECRET_EXPIRING, Topic.SECRET_EXPIRY, [key], params,
            company_id=server.company_id, server_id=server.id, now=now,
        ) or []  # fmt: skip
    return found


def digests(settings: AlertSettings, slot: datetime, now: datetime) -> Deliveries:
    """Each person's new documents since their last digest, per company they see; none when nothing is new."""
    zone = ZoneInfo(settings.timezone)
    until = slot.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    day = slot.astimezone(zone).date()
    # A first digest covers the day before: from the same wall-clock time (23 or 25 hours across DST).
    first_since = (slot.astimezone(zone) - timedelta(days=1)).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    found = []
    people = {
        user.id: user for company_id in _active_company_ids() for user in recipients(Topic.DIGEST, company_id)
    }
    for user in sorted(people.values(), key=lambda u: u.login):
        since = _last_digest_until(user.id) or first_since
        companies = _digest_companies(user, since, until)
        total = sum(company["count"] for company in companies)
        if not companies:
            continue
        params = {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "count": total,
            "companies": companies,
        }
        found += raise_event(
            settings, EventKind.DIGEST, Topic.DIGEST, [f"digest:{user.id}:{day.isoformat()}"], params,
            for_user=user, now=now,
        ) or []  # fmt: skip
    return found


def _active_company_ids() -> list[int]:
    return list(db.session.scalars(select(Company.id).where(Company.active.is_(True)).order_by(Company.id)))


def _last_digest_until(user_id: int) -> datetime | None:
    event = db.session.scalar(
        select(AlertEvent)
        .where(AlertEvent.user_id == user_id, AlertEvent.kind == EventKind.DIGEST)
        .order_by(AlertEvent.id.desc())
        .limit(1)
    )
    return datetime.fromisoformat(event.params["until"]) if event is not None else None


def _digest_companies(user: User, since: datetime, until: datetime) -> list[dict]:
    """Per company with new documents, or with documents to look at among those first read meanwhile:
    the count of new ones, what to look at, and what needs attention (failing, do wyjaśnienia)."""
    new_documents = (
        select(Document.company_id, func.count(Document.id))
        .where(Document.created_at > since, Document.created_at <= until)
        .group_by(Document.company_id)
    )
    counts = dict(db.session.execute(_seen_by(user, new_documents)).all())
    to_look_at = _documents_to_look_at(user, since, until)
    names = db.session.execute(
        select(Company.id, Company.name)
        .where(Company.id.in_(sorted(set(counts) | set(to_look_at))), Company.active.is_(True))
        .order_by(Company.name, Company.id)
    )
    rows = []
    for company_id, name in names:
        failing = []
        held = 0
        for server in _watched_servers(MailServer.company_id == company_id):
            latest = latest_finished(server.id)
            if latest is not None and latest.outcome == Outcome.FAILED:
                start = episode_start(server.id, latest.id)
                failing.append({"mailbox": server.label, "since": start.started_at.isoformat()})
            held += db.session.scalar(
                select(func.count(HeldMessage.id)).where(
                    HeldMessage.server_id == server.id, HeldMessage.state == HELD_NEEDS_PERSON
                )
            )
        rows.append(
            {
                "id": company_id,
                "name": name,
                "count": counts.get(company_id, 0),
                "failing": failing,
                "held": held,
                "documents_to_look_at": to_look_at.get(company_id, {}),
            }
        )
    return rows


def _seen_by(user: User, query: Select) -> Select:
    """``query`` of documents, narrowed to the companies ``user`` sees (an administrator sees all)."""
    if user.is_admin:
        return query
    return query.where(Document.company_id.in_([company.id for company in user.companies]))


# The warnings a bookkeeper acts on, by what the digest calls them; "KSeF" only informs.
DIGEST_WARNINGS = {
    WarningCode.OTHER_COMPANY: "other_company",
    WarningCode.SAME_INVOICE: "same_invoice",
    WarningCode.SAME_KSEF_NUMBER: "same_invoice",
    WarningCode.CHANGED_ACCOUNT: "changed_account",
}


def _documents_to_look_at(user: User, since: datetime, until: datetime) -> dict[int, dict[str, int]]:
    """Per company, of the documents first read since the last digest, how many carry each warning
    and how many could not be read.

    By the first reading, not the arrival: a document that arrived before the last digest and was
    read after it is told of in this one. Reading it again (``documents extract --all``) leaves the
    first reading where it was, so it is told of once.
    """
    counts: dict[int, Counter[str]] = {}
    first_read = select(Document.company_id, Document.warnings, Document.extraction_status).where(
        Document.first_read_at > since, Document.first_read_at <= until
    )
    for company_id, warnings, extraction_status in db.session.execute(_seen_by(user, first_read)):
        kinds = {DIGEST_WARNINGS.get(warning.get("code")) for warning in warnings or ()}
        kinds.discard(None)
        if extraction_status == Status.UNREADABLE:
            kinds.add("unreadable")
        if kinds:
            counts.setdefault(company_id, Counter()).update(kinds)
    return {company_id: dict(kinds) for company_id, kinds in counts.items()}


def _local_date(moment: datetime, zone: ZoneInfo) -> date:
    return moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).date()
