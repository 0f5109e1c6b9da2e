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

from ekpanel.access import visible_companies
from ekpanel.checks.queries import last_check_summaries
from ekpanel.clock import next_check_time
from ekpanel.companies.models import Company
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
