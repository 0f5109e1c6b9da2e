"""What the settings page shows about servers: a company's server rows and every company's warnings.

A handful of queries for the whole page, whatever the number of servers; the templates only read
what is built here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_login import current_user
from sqlalchemy import func, or_, select

from ekpanel.access import visible_companies
from ekpanel.checks.counts import CheckCounts
from ekpanel.checks.held import needing_person_counts
from ekpanel.checks.models import Check
from ekpanel.checks.queries import authres_absent_ids
from ekpanel.clock import next_check_time
from ekpanel.companies.models import Company
from ekpanel.extensions import db
from ekpanel.mail.vocabulary import Outcome
from ekpanel.servers.models import MailServer
from ekpanel.servers.operations import companies_with_warnings, server_row_warnings


@dataclass
class ServerRow:
    server: MailServer
    checks: dict  # the keys of ekpanel.checks.queries.last_check_summary
    warnings: list[str]
    next_check: datetime | None  # None: the server (or its company) is not checked


def office_today() -> date:
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()


def company_list_context() -> dict:
    """The companies on the left of the settings page, with their servers' warnings."""
    return {
        "companies": visible_companies(current_user, include_inactive=True),
        "company_warnings": companies_with_warnings(office_today()),
    }


def settings_page_context(company: Company | None) -> dict:
    """The company list and, for ``company``, its panel's server rows."""
    rows = server_rows(company.servers, company, office_today()) if company is not None else []
    return company_list_context() | {"company": company, "server_rows": rows}


def server_rows(servers: list[MailServer], company: Company, today: date) -> list[ServerRow]:
    summaries = last_check_summaries([server.id for server in servers])
    next_check = next_check_time(current_app.config["CHECK_TIMES"], current_app.config["TIMEZONE"])
    return [
        ServerRow(
            server,
            summaries[server.id],
            server_row_warnings(server, summaries[server.id], today),
            next_check if server.active and company.active else None,
        )
        for server in servers
    ]


def last_check_summaries(server_ids: list[int]) -> dict[int, dict]:
    """``ekpanel.checks.queries.last_check_summary`` of each server, in five queries for them all."""
    summaries = {server_id: _summary(None) for server_id in server_ids}
    if not server_ids:
        return summaries
    for check in _last_finished_checks(server_ids):
        summaries[check.server_id] = _summary(check)
    for server_id, started_at in _newest_running(server_ids):
        last = summaries[server_id]["check"]
        summaries[server_id]["running"] = last is None or started_at >= last.started_at
    failed = [server_id for server_id, s in summaries.items() if s["outcome"] == Outcome.FAILED]
    for server_id, since in _failing_since(failed):
        summaries[server_id]["failing_since"] = since
    for server_id, count in needing_person_counts(server_ids).items():
        summaries[server_id]["needs_person"] = count
    for server_id in authres_absent_ids(server_ids):
        summaries[server_id]["authres_absent"] = True
    return summaries


def _summary(check: Check | None) -> dict:
    return {
        "check": check,
        "finished_at": check.finished_at if check else None,
        "outcome": check.outcome if check else None,
        "error_code": check.error_code if check else None,
        "error": check.error if check else None,
        "counts": check.counts if check else CheckCounts(),
        "running": False,
        "failing_since": None,
        "needs_person": 0,
        "authres_absent": False,
    }


def _last_finished_checks(server_ids: list[int]) -> list[Check]:
    newest_first = (Check.started_at.desc(), Check.id.desc())
    rank = func.row_number().over(partition_by=Check.server_id, order_by=newest_first)
    ranked = (
        select(Check.id, rank.label("n"))
        .where(Check.server_id.in_(server_ids), Check.outcome != Outcome.RUNNING)
        .subquery()
    )
    query = select(Check).join(ranked, ranked.c.id == Check.id).where(ranked.c.n == 1)
    return list(db.session.scalars(query))


def _newest_running(server_ids: list[int]):
    return db.session.execute(
        select(Check.server_id, func.max(Check.started_at))
        .where(Check.server_id.in_(server_ids), Check.outcome == Outcome.RUNNING)
        .group_by(Check.server_id)
    ).all()


def _failing_since(server_ids: list[int]):
    """When each server's current run of failed checks began (the first check after its last good one)."""
    if not server_ids:
        return []
    last_good = (
        select(Check.server_id, func.max(Check.started_at).label("at"))
        .where(Check.server_id.in_(server_ids), Check.outcome.in_((Outcome.OK, Outcome.PARTIAL)))
        .group_by(Check.server_id)
        .subquery()
    )
    return db.session.execute(
        select(Check.server_id, func.min(Check.started_at))
        .outerjoin(last_good, last_good.c.server_id == Check.server_id)
        .where(
            Check.server_id.in_(server_ids),
            Check.outcome == Outcome.FAILED,
            or_(last_good.c.at.is_(None), Check.started_at > last_good.c.at),
        )
        .group_by(Check.server_id)
    ).all()
