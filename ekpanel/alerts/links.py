"""Links in messages: the panel's own routes under EKPANEL_BASE_URL (a worker has no request to ask)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app


def external_url(base_url: str, endpoint: str, **values) -> str:
    """``https://panel.biuro.pl/settings/email/servers/7/edit`` for ``("servers.edit", server_id=7)``."""
    parts = urlsplit(base_url)
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)
