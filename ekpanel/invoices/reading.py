"""``read_fields``: every field a text layer shows, with the text each was read from.

Plain strings and boxes in, an ``InvoiceDetails`` out: no PDF library here, so this runs in the
worker's own process on what the sandboxed child reported.
"""

from __future__ import annotations

from ekpanel.invoices.accounts import find_accounts
from ekpanel.invoices.details import Found, FoundNip, InvoiceDetails, Status
from ekpanel.invoices.fields import find_amount_due, find_invoice_number, find_issue_date
from ekpanel.invoices.ksef import find_ksef_numbers, find_offline_marks
from ekpanel.invoices.nip import find_nips
from ekpanel.invoices.roles import RoleReader
from ekpanel.invoices.text import TextLayer

# Words on the line that make a KSeF number another invoice's (the corrected one's).
_OTHER_INVOICE_WORDS = ("korygowan", "pierwotn")


def read_fields(layer: TextLayer) -> InvoiceDetails:
    """Every field the text layer shows; a field the text does not settle stays empty."""
    text = layer.text

    def found(match) -> Found | None:
        return None if match is None else Found(match.value, layer.snippet(match.start, match.end))

    roles = RoleReader(layer)
    nips: dict[tuple, FoundNip] = {}
    for match in find_nips(text):
        role, words = roles.role_at(match.start, match.end)
        nips.setdefault(
            (match.value, role), FoundNip(match.value, role, layer.snippet(match.start, match.end), words)
        )
    # The same NIP once with a role and once without (a footer repeating it) is the one with.
    with_role = {value for value, role in nips if role is not None}
    nip_list = tuple(nip for (value, role), nip in nips.items() if role is not None or value not in with_role)

    accounts: dict[str, Found[str]] = {}
    for match in find_accounts(text):
        accounts.setdefault(match.value, Found(match.value, layer.snippet(match.start, match.end)))

    ksef = [
        match
        for match in find_ksef_numbers(text)
        if not any(
            word in text[slice(*layer.line_span(match.start, match.end))].lower()
            for word in _OTHER_INVOICE_WORDS
        )
    ]
    ksef_number = found(ksef[0]) if len({match.value for match in ksef}) == 1 else None
    offline = find_offline_marks(text)
    offline_mark = Found("OFFLINE", layer.snippet(*offline[0])) if offline else None

    return InvoiceDetails(
        status=Status.OK,
        page_count=layer.page_count,
        nips=nip_list,
        invoice_number=found(find_invoice_number(text)),
        issue_date=found(find_issue_date(text)),
        amount_due=found(find_amount_due(text)),
        bank_accounts=tuple(accounts.values()),
        ksef_number=ksef_number,
        offline_mark=offline_mark,
    )
