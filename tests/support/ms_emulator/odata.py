"""OData as Graph speaks it: path segments, ``$select``, ``$filter``, paging links, ``Prefer`` headers."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from werkzeug.wrappers import Request

from .errors import GraphError
from .values import as_utc

if TYPE_CHECKING:
    from .model import Mailbox
    from .server import TlsServer

DEFAULT_PAGE_SIZE = 10
_DT_LITERAL = re.compile(r"^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$")

Filter = tuple[str, str, Any]  # (property path, operator, literal)


def normalise_segments(path: str) -> list[str]:
    """Split a Graph path, turning OData key syntax ``mailFolders('x')`` into ``mailFolders/x``."""
    out: list[str] = []
    for seg in path.strip("/").split("/"):
        if not seg:
            continue
        m = re.fullmatch(r"([A-Za-z.]+)\('(.*)'\)", seg)
        if m:
            out.extend([m.group(1), m.group(2).replace("''", "'")])
        elif seg.lower().startswith("microsoft.graph."):
            out.append(seg[len("microsoft.graph.") :].rstrip("()"))
        else:
            out.append(seg)
    return out


def prefer(request: Request) -> dict[str, str]:
    """The ``Prefer`` header's preferences by lower-cased name (``idtype``, ``odata.maxpagesize``...)."""
    prefs: dict[str, str] = {}
    for header in request.headers.getlist("Prefer"):
        for item in header.split(","):
            name, _, value = item.strip().partition("=")
            if name:
                prefs[name.strip().lower()] = value.strip().strip('"')
    return prefs


def wants_immutable_ids(prefs: dict[str, str]) -> bool:
    return prefs.get("idtype", "").lower() == "immutableid"


def select(request: Request, allowed: list[str], type_name: str) -> list[str] | None:
    raw = request.args.get("$select")
    if raw is None or not raw.strip():
        return None
    lookup = {p.lower(): p for p in allowed}
    out = []
    for item in raw.split(","):
        name = item.strip()
        short = name.split("/")[-1]  # microsoft.graph.fileAttachment/contentBytes
        canonical = lookup.get(short.lower())
        if canonical is None:
            raise GraphError(
                400,
                "RequestBroker--ParseUri",
                f"Could not find a property named '{name}' on type '{type_name}'.",
            )
        out.append(canonical)
    return out


def apply_select(doc: dict[str, Any], selected: list[str] | None, always: tuple[str, ...]) -> dict[str, Any]:
    if selected is None:
        return doc
    keep = set(selected) | set(always)
    return {k: v for k, v in doc.items() if k in keep}


def filters(request: Request, known: list[str], type_name: str) -> list[Filter]:
    raw = request.args.get("$filter")
    if raw is None or not raw.strip():
        return []
    out = []
    lookup = {p.lower(): p for p in known}
    for clause in _split_and(raw):
        m = re.fullmatch(r"([A-Za-z/]+)\s+(eq|ne|ge|gt|le|lt)\s+(.+)", clause.strip(), re.IGNORECASE)
        if not m:
            raise GraphError(
                400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes."
            )
        prop, op, literal = m.group(1), m.group(2).lower(), m.group(3)
        head, _, tail = prop.partition("/")
        canonical = lookup.get(head.lower())
        if canonical is None:
            raise GraphError(
                400,
                "RequestBroker--ParseUri",
                f"Could not find a property named '{head}' on type '{type_name}'.",
            )
        out.append((canonical + ("/" + tail if tail else ""), op, _parse_literal(literal)))
    return out


def matches(doc: dict[str, Any], conditions: list[Filter]) -> bool:
    """Whether a rendered document passes every ``$filter`` clause."""
    return all(compare(lookup(doc, p), op, v) for p, op, v in conditions)


def _split_and(expr: str) -> list[str]:
    """Split an OData $filter on ``and`` outside quoted strings."""
    parts: list[str] = []
    buf: list[str] = []
    in_quote = False
    i = 0
    while i < len(expr):
        ch = expr[i]
        if ch == "'":
            in_quote = not in_quote
        if not in_quote and expr[i : i + 5].lower() == " and ":
            parts.append("".join(buf))
            buf = []
            i += 5
            continue
        buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return [p.strip() for p in parts if p.strip()]


def _parse_literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'":
        return text[1:-1].replace("''", "'")
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    if _DT_LITERAL.match(text):
        return as_utc(text)
    try:
        return float(text)
    except ValueError:
        raise GraphError(
            400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes."
        ) from None


def lookup(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def compare(left: Any, op: str, right: Any) -> bool:
    if isinstance(right, datetime) and isinstance(left, str):
        left = as_utc(left)
    if isinstance(left, str) and isinstance(right, str):
        left, right = left.lower(), right.lower()
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if left is None or right is None:
        return False
    try:
        return {"ge": left >= right, "gt": left > right, "le": left <= right, "lt": left < right}[op]
    except TypeError:
        return False


def page_args(request: Request, default: int = DEFAULT_PAGE_SIZE) -> tuple[int, int]:
    try:
        top = int(request.args.get("$top", default))
        skip = int(request.args.get("$skip", 0))
    except ValueError:
        raise GraphError(400, "BadRequest", "Invalid $top or $skip value.") from None
    if top < 0 or skip < 0:
        raise GraphError(400, "BadRequest", "Invalid $top or $skip value.")
    return max(1, min(top, 1000)) if top else default, skip


def next_link(site: TlsServer, request: Request, skip: int) -> str:
    """The same request with ``$skip`` advanced, spelled as Graph spells it (clients follow it verbatim)."""
    raw_path = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
    raw_path = raw_path.split("?", 1)[0]
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k != "$skip"]
    pairs.append(("$skip", str(skip)))
    return f"{site.origin}{raw_path}?" + urlencode(pairs, quote_via=quote, safe="$,'()")


def context(site: TlsServer, mb: Mailbox, tail: str) -> str:
    """The ``@odata.context`` of an answer about ``tail`` in the mailbox."""
    return f"{site.graph_url}/$metadata#users('{quote(mb.upn, safe='@.')}')/{tail}"
