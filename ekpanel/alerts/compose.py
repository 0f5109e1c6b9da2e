"""Each event as a message one person can read: their language, a short subject naming the company and
the problem, plain text and simple HTML, and a link straight to the page that fixes it.

Composed when the event is raised and stored with the delivery, so every attempt sends the same
message. Times are the office's (EKPANEL_TIMEZONE).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from ekpanel.accounts.models import User
from ekpanel.alerts.links import external_url
from ekpanel.alerts.settings import AlertSettings
from ekpanel.alerts.topics import EventKind
from ekpanel.checks.models import stored_note
from ekpanel.templating import render_note
from ekpanel.timeutil import utcnow

# The digest's lines about its documents to look at (kinds: ekpanel.alerts.daily_events.DIGEST_WARNINGS),
# in order.
DIGEST_DOCUMENT_LINES = {
    "same_invoice": lambda count: _(
        "Uwaga: ta sama faktura co we wcześniejszym dokumencie: %(count)s.", count=count
    ),
    "other_company": lambda count: _("Uwaga: inna firma? (brak NIP-u firmy): %(count)s.", count=count),
    "changed_account": lambda count: _("Uwaga: zmieniony rachunek sprzedawcy: %(count)s.", count=count),
    "unreadable": lambda count: _("Uwaga: nie udało się odczytać PDF-u: %(count)s.", count=count),
}


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass
class Section:
    title: str
    lines: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)


@dataclass
class MailContent:
    subject: str
    paragraphs: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    footer: str = ""


@dataclass(frozen=True)
class ComposedMail:
    subject: str
    text: str
    html: str


class Composer:
    """Writes one event's message for one reader."""

    def __init__(
        self, settings: AlertSettings, reader: User | None, language: str, now: datetime | None = None
    ):
        self.settings = settings
        self.reader = reader
        self.language = language if language in ("pl", "en") else "pl"
        self.zone = ZoneInfo(settings.timezone)
        self.now = now or utcnow()

    def compose(self, kind: str, params: dict) -> ComposedMail:
        with force_locale(self.language):
            content = getattr(self, f"_{EventKind(kind).value}")(params)
            content.footer = _(
                "Wiadomość wysłana automatycznie przez ekpanel. Powiadomienia wybierasz na stronie "
                "Moje konto: %(url)s",
                url=self.url("accounts.account"),
            )
            text = render_template("alerts/mail.txt", mail=content)
            html = render_template("alerts/mail.html", mail=content, language=self.language)
        return ComposedMail(content.subject, text, html)

    # --- helpers ------------------------------------------------------------------------------

    def url(self, endpoint: str, **values) -> str:
        return external_url(self.settings.base_url, endpoint, **values)

    def when(self, stamp: str | None, *, with_date: bool = False) -> str:
        """A stored naive-UTC time as the office reads it: "12:00" today, "2026-03-28 12:00" before."""
        if not stamp:
            return ""
        utc = ZoneInfo("UTC")
        moment = datetime.fromisoformat(stamp).replace(tzinfo=utc).astimezone(self.zone)
        today = self.now.replace(tzinfo=utc).astimezone(self.zone).date()
        return moment.strftime("%H:%M" if moment.date() == today and not with_date else "%Y-%m-%d %H:%M")

    def error(self, params: dict) -> str:
        note = stored_note(params.get("error_note"))
        return render_note(note) if note is not None else ""

    def server_links(self, params: dict) -> list[Link]:
        """Administrators fix the server; an operator with the right reads its history."""
        server_id, company_id = params["server_id"], params["company_id"]
        history = Link(_("Historia sprawdzeń"), self.url("checks.server_history", server_id=server_id))
        if self.reader is None or self.reader.is_admin:
            return [Link(_("Ustawienia serwera"), self.url("servers.edit", server_id=server_id)), history]
        if self.reader.may_refresh:
            return [history]
        documents = self.url("documents.company_documents", company_id=company_id)
        return [Link(_("Przekazane dokumenty - e-mail"), documents)]

    # --- one method per event kind ------------------------------------------------------------

    def _names(self, p: dict) -> dict:
        return {"company": p["company"], "mailbox": p["mailbox"], "since": self.when(p.get("since"))}

    def _server_failing(self, p: dict) -> MailContent:
        names = self._names(p)
        return MailContent(
            subject=_("[ekpanel] %(company)s: skrzynka %(mailbox)s nie działa od %(since)s", **names),
            paragraphs=[
                _(
                    "Skrzynka %(mailbox)s firmy %(company)s nie działa od %(since)s: "
                    "jej sprawdzenie kończy się błędem.",
                    **names,
                ),
                _("Błąd: %(error)s", error=self.error(p)),
                _(
                    "Dopóki skrzynka nie działa, nie są z niej pobierane dokumenty. Przypomnimy o tym "
                    "raz dziennie i napiszemy, gdy znów zadziała."
                ),
            ],
            links=self.server_links(p),
        )

    def _consent_missing(self, p: dict) -> MailContent:
        names = self._names(p)
        if p.get("consent_was_granted"):
            subject = _(
                "[ekpanel] %(company)s: zgoda Microsoft 365 dla skrzynki %(mailbox)s została wycofana",
                **names,
            )
        else:
            subject = _("[ekpanel] %(company)s: brak zgody Microsoft 365 dla skrzynki %(mailbox)s", **names)
        return MailContent(
            subject=subject,
            paragraphs=[
                _("Od %(since)s panel nie ma dostępu do skrzynki %(mailbox)s firmy %(company)s.", **names),
                _("Błąd: %(error)s", error=self.error(p)),
                _(
                    "Administrator Microsoft 365 musi udzielić zgody: otwórz ustawienia serwera "
                    "i naciśnij „Udziel zgody administratora”."
                ),
            ],
            links=self.server_links(p),
        )

    def _server_reminder(self, p: dict) -> MailContent:
        names = self._names(p)
        return MailContent(
            subject=_("[ekpanel] %(company)s: skrzynka %(mailbox)s nadal nie działa (od %(since)s)", **names),
            paragraphs=[
                _(
                    "Skrzynka %(mailbox)s firmy %(company)s nadal nie działa; nie działa od %(since)s. "
                    "Ostatnie sprawdzenie: %(last)s.",
                    last=self.when(p["last_check_at"]),
                    **names,
                ),
                _("Błąd: %(error)s", error=self.error(p)),
            ],
            links=self.server_links(p),
        )

    def _server_recovered(self, p: dict) -> MailContent:
        names = self._names(p)
        return MailContent(
            subject=_("[ekpanel] %(company)s: skrzynka %(mailbox)s znów działa", **names),
            paragraphs=[
                _(
                    "Skrzynka %(mailbox)s firmy %(company)s znów działa (sprawdzenie o %(at)s). "
                    "Nie działała od %(since)s.",
                    at=self.when(p["recovered_at"]),
                    **names,
                ),
            ],
            links=self.server_links(p),
        )

    def _secret_expiring(self, p: dict) -> MailContent:
        names = {"company": p["company"], "mailbox": p["mailbox"], "date": p["expires_on"]}
        if p["days_left"] < 0:
            subject = _("[ekpanel] %(company)s: klucz sekretny skrzynki %(mailbox)s wygasł %(date)s", **names)
            state = _(
                "Klucz sekretny aplikacji (Outlook 365) skrzynki %(mailbox)s firmy %(company)s "
                "wygasł %(date)s.",
                **names,
            )
        else:
            subject = _("[ekpanel] %(company)s: klucz sekretny skrzynki %(mailbox)s wygasa %(date)s", **names)
            state = _(
                "Klucz sekretny aplikacji (Outlook 365) skrzynki %(mailbox)s firmy %(company)s "
                "wygasa %(date)s. Pozostało dni: %(days)s.",
                days=p["days_left"],
                **names,
            )
        return MailContent(
            subject=subject,
            paragraphs=[
                state,
                _(
                    "Utwórz nowy klucz w rejestracji aplikacji w Microsoft Entra ID i wpisz go "
                    "w ustawieniach serwera, razem z jego datą ważności."
                ),
            ],
            links=self.server_links(p),
        )

    def _message_line(self, message: dict, *parts: str) -> str:
        line = " · ".join(filter(None, [self.when(message.get("received_at")), *parts]))
        note = stored_note(message.get("error_note"))
        return f"{line} — {render_note(note)}" if note is not None else line

    def _held_messages(self, p: dict) -> MailContent:
        names = {"company": p["company"], "mailbox": p["mailbox"], "count": p["count"]}
        lines = [
            self._message_line(m, m.get("folder"), m.get("sender"), m.get("subject")) for m in p["messages"]
        ]
        return MailContent(
            subject=_(
                "[ekpanel] %(company)s: skrzynka %(mailbox)s, wiadomości do wyjaśnienia: %(count)s", **names
            ),
            paragraphs=[
                _(
                    "Tych wiadomości ze skrzynki %(mailbox)s firmy %(company)s nie udało się odczytać "
                    "w trzech kolejnych sprawdzeniach. Zostały w swoim folderze, nietknięte, i czekają "
                    "na decyzję człowieka.",
                    **names,
                ),
            ],
            sections=[Section(_("Wiadomości do wyjaśnienia"), lines)],
            links=self.server_links(p),
        )

    def _forged_senders(self, p: dict) -> MailContent:
        names = {"company": p["company"], "mailbox": p["mailbox"], "count": p["count"]}
        lines = [self._message_line(m, m.get("sender"), m.get("subject")) for m in p["messages"]]
        return MailContent(
            subject=_(
                "[ekpanel] %(company)s: skrzynka %(mailbox)s, odrzucone wiadomości "
                "od podszytych nadawców: %(count)s",
                **names,
            ),
            paragraphs=[
                _(
                    "Serwer poczty nie potwierdził, że te wiadomości wysłał nadawca podany w polu Od "
                    "(DMARC lub DKIM niezgodne), więc nie zostały pobrane. Zostały w swoim folderze."
                ),
            ],
            sections=[Section(_("Odrzucone wiadomości"), lines)],
            links=self.server_links(p),
        )

    def _digest(self, p: dict) -> MailContent:
        companies, count = p["companies"], p["count"]
        if count == 0:  # only documents read since the last digest, to look at
            subject = _(
                "[ekpanel] Dokumenty do sprawdzenia, firmy: %(names)s",
                names=", ".join(company["name"] for company in companies),
            )
        elif len(companies) == 1:
            subject = _(
                "[ekpanel] %(company)s: nowe dokumenty: %(count)s", company=companies[0]["name"], count=count
            )
        else:
            subject = _(
                "[ekpanel] Nowe dokumenty: %(count)s, firmy: %(companies)s",
                count=count,
                companies=len(companies),
            )
        sections = []
        for company in companies:
            lines = [_("Nowe dokumenty: %(count)s", count=company["count"])]
            for failing in company.get("failing", []):
                since = self.when(failing["since"])
                lines.append(
                    _(
                        "Uwaga: skrzynka %(mailbox)s nie działa od %(since)s.",
                        mailbox=failing["mailbox"],
                        since=since,
                    )
                )
            if company.get("held"):
                lines.append(_("Uwaga: wiadomości do wyjaśnienia: %(count)s.", count=company["held"]))
            to_look_at = company.get("documents_to_look_at", {})
            lines += [
                line(to_look_at[kind]) for kind, line in DIGEST_DOCUMENT_LINES.items() if kind in to_look_at
            ]
            links = [
                Link(
                    _("Przekazane dokumenty - e-mail"),
                    self.url("documents.company_documents", company_id=company["id"]),
                )
            ]
            if any(kind != "unreadable" for kind in to_look_at):
                warned = self.url("documents.company_documents", company_id=company["id"], warnings="y")
                links.append(Link(_("Dokumenty z ostrzeżeniami"), warned))
            sections.append(Section(company["name"], lines, links))
        span = {
            "since": self.when(p["since"], with_date=True),
            "until": self.when(p["until"], with_date=True),
            "count": count,
        }
        return MailContent(
            subject=subject,
            paragraphs=[_("Nowe dokumenty od %(since)s do %(until)s: %(count)s.", **span)],
            sections=sections,
        )

    def _test(self, p: dict) -> MailContent:
        return MailContent(
            subject=_("[ekpanel] Wiadomość testowa"),
            paragraphs=[
                _(
                    "To wiadomość testowa z panelu ekpanel, wysłana na prośbę użytkownika %(login)s. "
                    "Skoro dotarła, powiadomienia e-mail działają.",
                    login=p.get("login") or "",
                ),
            ],
            links=[Link(_("Powiadomienia e-mail"), self.url("alerts.sent"))],
        )
