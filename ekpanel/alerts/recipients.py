"""Who is told: active users with an address who want the topic and may see the company."""

from __future__ import annotations

from sqlalchemy import select

from ekpanel.accounts.models import User
from ekpanel.alerts.models import AlertChoice
from ekpanel.alerts.topics import Topic, available_topics, default_topics
from ekpanel.extensions import db


def wanted_topics(user: User) -> set[Topic]:
    """The topics ``user`` gets: their own choices, their role's defaults for the rest."""
    chosen = {
        choice.topic: choice.wanted
        for choice in db.session.scalars(select(AlertChoice).where(AlertChoice.user_id == user.id))
    }
    defaults = default_topics(user.is_admin)
    return {topic for topic in available_topics(user.is_admin) if chosen.get(str(topic), topic in defaults)}


def choose_topics(user: User, wanted: set[Topic]) -> None:
    """Keep ``user``'s choice for every topic they may choose (so later defaults do not change it)."""
    existing = {
        choice.topic: choice
        for choice in db.session.scalars(select(AlertChoice).where(AlertChoice.user_id == user.id))
    }
    for topic in available_topics(user.is_admin):
        choice = existing.get(str(topic))
        if choice is None:
            db.session.add(AlertChoice(user_id=user.id, topic=str(topic), wanted=topic in wanted))
        else:
            choice.wanted = topic in wanted


def recipients(topic: Topic, company_id: int | None) -> list[User]:
    """The users told of ``topic`` about ``company_id`` (None: about no company, administrators only),
    one per address, by login."""
    users = db.session.scalars(
        select(User)
        .where(User.active.is_(True), User.email.is_not(None), User.email != "")
        .order_by(User.login)
    ).all()
    chosen = {
        (choice.user_id, choice.topic): choice.wanted
        for choice in db.session.scalars(select(AlertChoice).where(AlertChoice.topic == str(topic)))
    }
    found, addresses = [], set()
    for user in users:
        if topic not in available_topics(user.is_admin):
            continue
        if not chosen.get((user.id, str(topic)), topic in default_topics(user.is_admin)):
            continue
        if not user.is_admin and (company_id is None or not user.may_see_company(company_id)):
            continue
        address = user.email.strip().lower()
        if address in addresses:
            continue
        addresses.add(address)
        found.append(user)
    return found
