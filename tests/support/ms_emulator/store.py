"""The mailboxes and the operations on them that both tests and Graph endpoints use.

Python-side lookups are forgiving (a folder by id, well-known name, display path or unique display name) and
raise KeyError; the Graph endpoints resolve references Graph's way themselves. Callers hold the emulator's
lock.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from .model import Attachment, Folder, Mailbox, Message
from .values import b64url, iso, new_id, now

# Mailbox layout created by add_mailbox: (well-known name, display name, hidden).
_STANDARD_FOLDERS = [
    ("inbox", "Inbox", False),
    ("junkemail", "Junk Email", False),
    ("deleteditems", "Deleted Items", False),
    ("sentitems", "Sent Items", False),
    ("drafts", "Drafts", False),
    ("archive", "Archive", False),
    (None, "Conversation Action Settings", True),
]


class MailStore:
    def __init__(self) -> None:
        self.mailboxes: dict[str, Mailbox] = {}  # by lower-cased UPN
        self._seq = 0  # one counter for folder creation and message arrival order

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def mailbox(self, upn: str) -> Mailbox:
        try:
            return self.mailboxes[upn.lower()]
        except KeyError:
            raise KeyError(f"unknown mailbox {upn}") from None

    # ------------------------------------------------------------------ mailboxes and folders

    def add_mailbox(self, upn: str, tenant_id: str | None) -> str:
        key = upn.lower()
        if key in self.mailboxes:
            raise ValueError(f"mailbox {upn} exists")
        mb = Mailbox(
            upn=upn,
            user_id=str(uuid.uuid4()),
            tenant_id=tenant_id.lower() if tenant_id else None,
            root_parent_id=new_id("AQMkAD", 24),
        )
        root = self.make_folder(mb, "Top of Information Store", mb.root_parent_id, "msgfolderroot", False)
        for well_known, name, hidden in _STANDARD_FOLDERS:
            self.make_folder(mb, name, root.id, well_known, hidden)
        self.mailboxes[key] = mb
        return mb.user_id

    def add_folder(self, upn: str, display_name: str, parent: str, hidden: bool) -> str:
        mb = self.mailbox(upn)
        parent_folder = self.find_folder(mb, parent)
        if any(
            f.parent_id == parent_folder.id and f.display_name.lower() == display_name.lower()
            for f in mb.folders.values()
        ):
            raise ValueError(f"folder {display_name!r} already exists under {parent!r}")
        return self.make_folder(mb, display_name, parent_folder.id, None, hidden).id

    def make_folder(
        self, mb: Mailbox, name: str, parent_id: str, well_known: str | None, hidden: bool
    ) -> Folder:
        folder = Folder(new_id("AQMkAD"), name, parent_id, well_known, hidden, self.next_seq())
        mb.folders[folder.id] = folder
        return folder

    def folder_path(self, mb: Mailbox, folder: Folder) -> str:
        parts = []
        current: Folder | None = folder
        while current is not None and current.well_known != "msgfolderroot":
            parts.append(current.display_name)
            current = mb.folders.get(current.parent_id)
        return "/".join(reversed(parts))

    def find_folder(self, mb: Mailbox, ref: str) -> Folder:
        """Python-side lookup: id, well-known name, display path from the root, or a unique display name."""
        if ref in mb.folders:
            return mb.folders[ref]
        low = ref.lower()
        for f in mb.folders.values():
            if f.well_known == low:
                return f
        root = next(f for f in mb.folders.values() if f.well_known == "msgfolderroot")
        current = root
        for part in ref.split("/"):
            nxt = next(
                (
                    f
                    for f in mb.folders.values()
                    if f.parent_id == current.id and f.display_name.lower() == part.lower()
                ),
                None,
            )
            if nxt is None:
                break
            current = nxt
        else:
            return current
        matches = [f for f in mb.folders.values() if f.display_name.lower() == low]
        if len(matches) == 1:
            return matches[0]
        raise KeyError(f"no single folder {ref!r} in {mb.upn}")

    def folders_view(self, upn: str) -> list[dict[str, Any]]:
        """Every folder of the mailbox (root excluded), with its display path."""
        mb = self.mailbox(upn)
        out = []
        for f in sorted(mb.folders.values(), key=lambda f: f.seq):
            if f.well_known == "msgfolderroot":
                continue
            out.append(
                {
                    "id": f.id,
                    "displayName": f.display_name,
                    "path": self.folder_path(mb, f),
                    "parentFolderId": f.parent_id,
                    "wellKnownName": f.well_known,
                    "isHidden": f.hidden,
                }
            )
        return out

    # ------------------------------------------------------------------ messages

    def store_message(self, mb: Mailbox, folder: Folder, **kw: Any) -> str:
        """File a new message (``Message`` fields but its identity) into a folder; returns its id."""
        created = now()
        key = new_id("AAkALg", 48)
        msg = Message(
            key=key,
            id=new_id("AAMkAD", 48),
            folder_id=folder.id,
            seq=self.next_seq(),
            created=created,
            modified=created,
            change_key=b64url(secrets.token_bytes(12)),
            conversation_id=new_id("AAQkAD", 24),
            **kw,
        )
        mb.messages[key] = msg
        mb.ids[msg.id] = key
        return msg.id

    def find_message(self, mb: Mailbox, message_id: str) -> Message:
        """Python-side lookup by current id or ImmutableId."""
        key = mb.ids.get(message_id, message_id)
        if key not in mb.messages:
            raise KeyError(f"no message {message_id} in {mb.upn}")
        return mb.messages[key]

    def move(self, mb: Mailbox, msg: Message, dest: Folder) -> Message:
        """Move as Exchange does: a new id for the message and for each attachment, a new change key."""
        mb.ids.pop(msg.id, None)
        msg.id = new_id("AAMkAD", 48)
        mb.ids[msg.id] = msg.key
        msg.folder_id = dest.id
        msg.seq = self.next_seq()
        msg.modified = now()
        msg.change_key = b64url(secrets.token_bytes(12))
        for att in msg.attachments:
            att.id = new_id("AAMkAD", 64)  # attachment ids embed the message id in Exchange
        return msg

    def delete(self, mb: Mailbox, msg: Message) -> None:
        del mb.messages[msg.key]
        mb.ids.pop(msg.id, None)

    def messages_view(self, upn: str, folder: str) -> list[dict[str, Any]]:
        """What a folder holds, in arrival order, in a short shape for assertions."""
        mb = self.mailbox(upn)
        target = self.find_folder(mb, folder)
        out = []
        for msg in sorted(mb.messages.values(), key=lambda m: m.seq):
            if msg.folder_id != target.id:
                continue
            out.append(
                {
                    "id": msg.id,
                    "immutableId": msg.key,
                    "subject": msg.subject,
                    "internetMessageId": msg.internet_message_id,
                    "parentFolderId": msg.folder_id,
                    "receivedDateTime": iso(msg.received),
                    "hasAttachments": any(not a.is_inline for a in msg.attachments),
                    "isRead": msg.is_read,
                    "from": msg.sender_addr,
                    "attachments": [a.name for a in msg.attachments],
                }
            )
        return out


def new_attachment(
    name: str,
    content_type: str,
    content: bytes,
    is_inline: bool = False,
    is_item: bool = False,
    content_id: str | None = None,
) -> Attachment:
    return Attachment(
        id=new_id("AAMkAD", 64),
        name=name,
        content_type=content_type,
        content=content,
        is_inline=is_inline,
        is_item=is_item,
        content_id=content_id.strip("<>") if content_id else None,
        modified=now(),
    )
