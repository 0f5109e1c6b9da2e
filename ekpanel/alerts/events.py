"""Raising an event: its keys claimed, its messages composed, all in one commit, or nothing at all.

Every event carries idempotency keys (``AlertKey``: a primary key each). The keys are inserted
first; one already there means this event was raised before — by a retried job, a second clock,
another worker — and the transaction is rolled back, so nobody is told twice. A group of things
(messages "do wyjaśnienia", forged senders) gives each thing its own key, so one thing is never
announced in two groups.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ekpanel.accounts.models import User
from ekpanel.alerts.compose import Composer
from ekpanel.alerts.models import AlertDelivery, AlertEvent, AlertKey
from ekpanel.alerts.recipients import recipients
from ekpanel.alerts.settings import AlertSettings
from ekpanel.alerts.topics import EventKind, Topic
from ekpanel.extensions import db
from ekpanel.timeutil import utcnow


def taken_keys(keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` belong to an event already."""
    if not keys:
        return set()
    return set(db.session.scalars(select(AlertKey.key).where(AlertKey.key.in_(list(keys)))))


def raise_event(
    settings: AlertSettings,
    kind: EventKind,
    topic: Topic,
    keys: Sequence[str],
    params: dict,
    *,
    company_id: int | None = None,
    server_id: int | None = None,
    for_user: User | None = None,
    now: datetime | None = None,
) -> list[int] | None:
    """Record the event and one composed delivery per recipient, and commit.

    The recipients are ``for_user`` alone (a digest), or everyone who wants ``topic`` about the
    company. Returns the new deliveries' ids, or None when a key was taken: raised before.
    """
    now = now or utcnow()
    event = AlertEvent(
        kind=str(kind),
        topic=str(topic),
        company_id=company_id,
        server_id=server_id,
        user_id=for_user.id if for_user is not None else None,
        params=params,
        created_at=now,
    )
    db.session.add(event)
    try:
        db.session.flush()
        db.session.add_all([AlertKey(key=key, event_id=event.id) for key in keys])
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return None
    people = [for_user] if for_user is not None else recipients(topic, company_id)
    deliveries = [
        new_delivery(settings, event, person, person.email.strip(), person.language, now=now)
        for person in people
        if person.email
    ]
    db.session.commit()
    return [delivery.id for delivery in deliveries]


def new_delivery(
    settings: AlertSettings,
    event: AlertEvent,
    reader: User | None,
    address: str,
    language: str,
    *,
    retry: bool = True,
    now: datetime | None = None,
) -> AlertDelivery:
    """The event's message for one address, composed in ``language``; flushed, not committed."""
    mail = Composer(settings, reader, language, now=now).compose(event.kind, event.params)
    domain = settings.sender_address.rpartition("@")[2]
    delivery = AlertDelivery(
        event=event,
        user_id=reader.id if reader is not None else None,
        address=address[:320],
        language=language,
        subject=mail.subject,
        body_text=mail.text,
        body_html=mail.html,
        message_id=f"<ekpanel.{event.id}.{uuid.uuid4().hex}@{domain}>",
        retry=retry,
        next_attempt_at=now or utcnow(),
        created_at=now or utcnow(),
    )
    db.session.add(delivery)
    db.session.flush()
    return delivery


def queue_test_message(
    settings: AlertSettings, sender: User, address: str, now: datetime | None = None
) -> AlertDelivery:
    """Panel administratora's test message to ``address``: an event of its own, sent once, not retried
    (the administrator waits for the answer). Committed; a job sends it."""
    now = now or utcnow()
    event = AlertEvent(kind=str(EventKind.TEST), topic="test", params={"login": sender.login}, created_at=now)
    db.session.add(event)
    db.session.flush()
    db.session.add(AlertKey(key=f"test:{uuid.uuid4().hex}", event_id=event.id))
    delivery = new_delivery(settings, event, sender, address.strip(), sender.language, retry=False, now=now)
    db.session.commit()
    return delivery
