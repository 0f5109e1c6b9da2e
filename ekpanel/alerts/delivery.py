"""Sending one delivery of the outbox, so that no alert is lost and none arrives twice.

The order, each step committed before the next:

1. **claim**: one conditional UPDATE moves the row from ``pending`` (due) to ``sending`` with a lease
   and one more attempt. Two workers (or a retried job and the clock's sweep) race for it; the
   database lets exactly one win.
2. **hand over**: connect, log in, MAIL, RCPT, DATA and the whole text — but not the final dot.
   Until the dot, the SMTP server has accepted nothing: a worker killed here leaves ``sending``,
   and once its lease has passed the row is claimed and sent again. Nothing lost, nothing doubled.
3. just before the dot, the row becomes ``handed_over`` (committed); then the dot and the answer.
4. **record**: ``sent``; a 4xx answer or a dead server ``pending`` again, due after a backoff (1, 5,
   15 minutes, then hourly, for as long as it takes); a 5xx for this recipient or message
   ``failed``.

At-most-once at the one point where it cannot be both: a worker killed between the dot and step 4
(or an answer to the dot that never arrives) leaves ``handed_over``. The server may or may not have
accepted the message, and SMTP gives no way to ask. We chose not to send it again: the issue asks
for no duplicates, the window is a few milliseconds wide, and the row turns ``uncertain`` — shown in
Panel administratora as "maybe delivered", with its time, so a person can look. Sending it again
would make a duplicate whenever the server had in fact taken it, which is nearly always.
"""

from __future__ import annotations

import email.policy
import logging
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from flask import current_app
from sqlalchemy import and_, or_, select, update

from ekpanel.alerts import smtp
from ekpanel.alerts.models import FAILED, HANDED_OVER, PENDING, SENDING, SENT, UNCERTAIN, AlertDelivery
from ekpanel.alerts.settings import AlertSettings, alert_settings
from ekpanel.alerts.smtp import Outcome, SmtpError, SmtpFailure
from ekpanel.extensions import db
from ekpanel.timeutil import utcnow

log = logging.getLogger(__name__)

# CRLF line ends, as SMTP wants. Headers are folded only past RFC 5322's hard limit: Python folds a
# subject with Polish letters before an encoded word and leaves two spaces where there was one.
SMTP_POLICY = email.policy.SMTP.clone(max_line_length=998)

# After the 1st, 2nd, 3rd… failed attempt; the last step repeats. Tests set ALERT_RETRY_SECONDS.
RETRY_SECONDS = (60, 300, 900, 3600)


def lease_seconds(settings: AlertSettings) -> float:
    """Longer than any one send can take (each of its ~8 exchanges waits at most the timeout)."""
    return settings.timeout * 8 + 60


def retry_delay(attempts: int) -> float:
    steps = current_app.config.get("ALERT_RETRY_SECONDS") or RETRY_SECONDS
    return float(steps[min(max(attempts, 1), len(steps)) - 1])


def deliver(delivery_id: int, now: datetime | None = None) -> str | None:
    """Send the delivery if it is due and nobody else is sending it; its state afterwards (None: not ours)."""
    settings = alert_settings(current_app.config)
    now = now or utcnow()
    if not _claim(delivery_id, now, settings):
        return None
    delivery = db.session.get(AlertDelivery, delivery_id)
    if settings is None:  # turned off while it waited: keep it for when they are back
        return _record_failure(delivery, SmtpFailure(SmtpError.ALERTS_OFF, Outcome.RETRY), now)
    try:
        payload = build_message(delivery, settings).as_bytes(policy=SMTP_POLICY)
    except (ValueError, TypeError) as error:  # a header no message can carry: this one never goes out
        log.exception("Alert delivery %s cannot be written as a message", delivery_id)
        return _record_failure(
            delivery, SmtpFailure(SmtpError.MESSAGE_REFUSED, Outcome.REFUSED, repr(error), answer=error), now
        )
    address, retry = delivery.address, delivery.retry
    db.session.commit()  # nothing held open while the SMTP server talks

    def hand_over() -> bool:
        handed = db.session.execute(
            update(AlertDelivery)
            .where(AlertDelivery.id == delivery_id, AlertDelivery.state == SENDING)
            .values(state=HANDED_OVER)
        )
        db.session.commit()
        return handed.rowcount == 1  # our lease ran out and another worker took it: let it

    try:
        accepted = smtp.send(
            settings.smtp,
            payload,
            sender=settings.sender_address,
            recipient=address,
            timeout=settings.timeout,
            ca_bundle=settings.ca_bundle,
            before_final_dot=hand_over,
        )
    except SmtpFailure as failure:
        log.warning("Alert delivery %s to %s failed: %s", delivery_id, address, failure)
        delivery = db.session.get(AlertDelivery, delivery_id)
        if failure.outcome == Outcome.RETRY and not retry:
            failure.outcome = Outcome.REFUSED  # a test message answers now, it is not kept trying
        return _record_failure(delivery, failure, now)
    if not accepted:
        return None
    db.session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.id == delivery_id, AlertDelivery.state.in_((HANDED_OVER, UNCERTAIN)))
        .values(state=SENT, sent_at=utcnow(), last_error=None, lease_until=None)
    )
    db.session.commit()
    log.info("Alert delivery %s sent to %s", delivery_id, address)
    return db.session.get(AlertDelivery, delivery_id).state


def _claim(delivery_id: int, now: datetime, settings: AlertSettings | None) -> bool:
    lease = timedelta(seconds=lease_seconds(settings) if settings else 300)
    claimed = db.session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.id == delivery_id, _claimable(now))
        .values(state=SENDING, lease_until=now + lease, attempts=AlertDelivery.attempts + 1)
    )
    db.session.commit()
    return claimed.rowcount == 1


def _claimable(now: datetime):
    """Due and waiting, or claimed by a sender whose lease has passed (it died before the dot)."""
    return or_(
        and_(AlertDelivery.state == PENDING, AlertDelivery.next_attempt_at <= now),
        and_(AlertDelivery.state == SENDING, AlertDelivery.lease_until < now),
    )


def _record_failure(delivery: AlertDelivery, failure: SmtpFailure, now: datetime) -> str:
    delivery.last_error = failure.to_json()
    delivery.lease_until = None
    if failure.outcome == Outcome.UNCERTAIN:
        delivery.state = UNCERTAIN
    elif failure.outcome == Outcome.REFUSED:
        delivery.state = FAILED
    else:
        delivery.state = PENDING
        delivery.next_attempt_at = now + timedelta(seconds=retry_delay(delivery.attempts))
    db.session.commit()
    return delivery.state


def build_message(delivery: AlertDelivery, settings: AlertSettings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = delivery.address
    message["Subject"] = delivery.subject
    message["Date"] = format_datetime(delivery.created_at.replace(tzinfo=UTC))
    message["Message-ID"] = delivery.message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    message.set_content(delivery.body_text, cte="quoted-printable")
    message.add_alternative(delivery.body_html, subtype="html", cte="quoted-printable")
    return message


# --- the clock's sweep ----------------------------------------------------------------------------


def settle_abandoned(now: datetime | None = None) -> int:
    """A delivery ``handed_over`` whose lease has passed is ``uncertain`` (see the module's docstring)."""
    now = now or utcnow()
    result = db.session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.state == HANDED_OVER, AlertDelivery.lease_until < now)
        .values(
            state=UNCERTAIN,
            last_error={
                "code": str(SmtpError.UNCERTAIN),
                "params": {"host": "SMTP"},
                "detail": "lease passed",
            },
        )
    )
    db.session.commit()
    return result.rowcount or 0


def due_deliveries(now: datetime | None = None, *, grace: timedelta = timedelta(0)) -> list[int]:
    """Deliveries to send now: due (for ``grace`` already, so a job on its way is not doubled) or
    abandoned before the dot."""
    now = now or utcnow()
    query = select(AlertDelivery.id).where(_claimable(now - grace)).order_by(AlertDelivery.id)
    return list(db.session.scalars(query))
