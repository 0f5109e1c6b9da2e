"""The mailbox state model: what an Exchange mailbox holds, as plain records.

Records only; the operations on them live in ``store.py`` (arranging and moving) and in the Graph endpoint
modules (rendering). Nothing here locks: the emulator holds its one lock around every use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Folder:
    id: str
    display_name: str
    parent_id: str
    well_known: str | None
    hidden: bool
    seq: int


@dataclass
class Attachment:
    id: str
    name: str
    content_type: str
    content: bytes  # file bytes, or the MIME of an item attachment
    is_inline: bool
    is_item: bool
    content_id: str | None
    modified: datetime


@dataclass
class Message:
    key: str  # internal identity, also the ImmutableId (constant across moves)
    id: str  # the regular Graph id; a move replaces it
    folder_id: str
    seq: int  # arrival order in its current folder
    subject: str
    sender_name: str | None
    sender_addr: str | None
    to: list[tuple[str, str]]
    received: datetime
    sent: datetime
    internet_message_id: str | None
    attachments: list[Attachment]
    is_read: bool
    body_type: str  # "text" or "html"
    body: str
    raw: bytes
    headers: list[tuple[str, str]]  # header fields in order, as internetMessageHeaders lists them
    created: datetime
    modified: datetime
    change_key: str
    conversation_id: str


@dataclass
class Mailbox:
    upn: str
    user_id: str
    tenant_id: str | None
    root_parent_id: str
    folders: dict[str, Folder] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)  # by key
    ids: dict[str, str] = field(default_factory=dict)  # current regular id -> key
