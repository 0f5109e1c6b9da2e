"""Alerts by e-mail: a failing mailbox, an expiring secret, missing consent, a message "do wyjaśnienia",
a forged sender rejected, and each person's daily digest of new documents.

How it fits together (each step in its own module):

- ``settings``: on only when EKPANEL_SMTP_URL, EKPANEL_MAIL_FROM and EKPANEL_BASE_URL are set;
- ``detect``: what happened, read from the rows the checks wrote — after each check job (which
  enqueues ``jobs.evaluate_server_job`` by name; the checks import nothing of this package) and
  once a day at EKPANEL_DIGEST_TIME from the clock;
- ``events``: each event raised once, by its idempotency keys, with one composed message per
  recipient (``recipients``, ``compose``) in the same commit;
- ``delivery`` and ``smtp``: the outbox, sent by RQ jobs (``jobs``), retried with backoff, never
  twice (the module's docstring gives the order and the at-most-once choice at the final dot);
- ``routes``: Moje konto's choices, and Panel administratora's list of sent alerts and test message.
"""
