"""Reaching into a running check at the point its tests care about most: a batch's documents are
committed and its messages not yet moved. Production code knows nothing of this; the hook is put
around the mailbox the check opens.
"""

from __future__ import annotations

from collections.abc import Callable

from ekpanel.mail.mailbox import Mailbox, MessageSummary, RemoteFolder

BeforeMove = Callable[[RemoteFolder, list[MessageSummary]], None]
OpenMailbox = Callable[..., Mailbox]


def calling_before_move(open_mailbox: OpenMailbox, hook: BeforeMove) -> OpenMailbox:
    """``open_mailbox`` whose mailboxes call ``hook(folder, messages)`` before every move."""

    def open_with_hook(*args, **kwargs) -> Mailbox:
        mailbox = open_mailbox(*args, **kwargs)
        move = mailbox.move

        def move_after_hook(folder, messages, destination):
            hook(folder, messages)
            return move(folder, messages, destination)

        mailbox.move = move_after_hook
        return mailbox

    return open_with_hook
