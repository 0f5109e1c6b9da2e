"""A local emulator of Microsoft Entra ID (login) and the Microsoft Graph mail endpoints, for tests.

Why: the Microsoft 365 adapter talks to login.microsoftonline.com through msal and to graph.microsoft.com
through requests. Tests must run exactly those code paths offline, including msal's quirks (https only, one
discovery GET, its token cache) and Graph's (ids that change on move, paging links followed verbatim, delta
tombstones, throttling with Retry-After). The shapes imitate Microsoft's documentation and the team's
``microsoft365.md`` notes; nothing here ever contacts Microsoft.

Typical use::

    with MsEmulator() as emu:
        emu.add_app(CLIENT_ID, SECRET, TENANT_ID)
        emu.add_mailbox("faktury@contoso.com")
        emu.add_message("faktury@contoso.com", "inbox", sender="a@b.pl", subject="FV 1",
                        attachments=[{"name": "fv.pdf", "content_type": "application/pdf", "content": pdf}])
        # production reads EKPANEL_MS_LOGIN_URL=emu.login_url, EKPANEL_GRAPH_URL=emu.graph_url
        # and must trust emu.ca_path (pass a requests.Session with trust_env=False, verify=emu.ca_path)

Where things are: ``emulator.py`` (the facade tests hold), ``server.py`` (https), ``directory.py``,
``login.py``, ``token_endpoint.py``, ``consent.py`` (the login side), ``graph.py`` (Graph routing) with one
module per Graph endpoint (``folders``, ``messages``, ``attachments``, ``moves``, ``delta``), ``model.py`` and
``store.py`` (mailbox state), ``delivery.py`` and ``mime.py`` (mail in), ``faults.py``, ``odata.py``.
"""

from .emulator import MsEmulator, RecordedRequest

__all__ = ["MsEmulator", "RecordedRequest"]
