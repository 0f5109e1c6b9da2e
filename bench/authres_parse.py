"""How long the Authentication-Results reader takes on the worst inputs a sender can write.

Run by hand (not a test; times depend on the machine):

    .venv/bin/python bench/authres_parse.py

The target (issue "Sender verification"): any input gives a result or the module's own error in
well under 1 s. Each case is a field just under ``MAX_FIELD_CHARS`` built to stress one part of
the scanner (nesting, escapes, many results, many keys, long values), then a whole message of
``MAX_FIELDS_READ`` such fields through ``sender_verdict``, and ``propose_authserv_id`` over
1,000 messages. Prints the slowest of several runs per case.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ekpanel.mail.authres import AuthResError, parse_header, propose_authserv_id, sender_verdict
from ekpanel.mail.authres.domains import organisational_domain
from ekpanel.mail.authres.header import MAX_FIELD_CHARS
from ekpanel.mail.authres.verdict import MAX_FIELDS_READ

LIMIT = MAX_FIELD_CHARS


def fill(opening: str, unit: str, closing: str = "") -> str:
    """``opening`` + as many ``unit`` as fit under the limit + ``closing``."""
    room = LIMIT - len(opening) - len(closing)
    return opening + unit * (room // len(unit)) + closing


CASES = {
    "deeply nested comment": fill("mx.example.pl; dkim=pass ", "(", ")"),
    "deeply nested comment, closed": "mx.example.pl; dkim=pass "
    + "(" * (LIMIT // 2 - 20)
    + ")" * (LIMIT // 2 - 20),
    "escapes in a comment": fill("mx.example.pl; dkim=pass (", "\\)", ")"),
    "escapes in a quoted string": fill('mx.example.pl; dkim=pass reason="', '\\"', '"'),
    "unterminated quoted string": fill('mx.example.pl; dkim=pass reason="', "a"),
    "many results": fill("mx.example.pl", "; dkim=pass header.d=a.pl"),
    "many keys": "mx.example.pl; dkim=pass" + "".join(f" header.x{index}=a" for index in range(1100)),
    "one long value": fill("mx.example.pl; dkim=pass header.b=", "A"),
    "encoded words in a comment": fill("mx.example.pl; spf=pass (", "=?utf-8?q?=C5=BC?= ", ")"),
    "broken encoded words in a comment": fill("mx.example.pl; spf=pass (", "=?x?q?", ")"),
    "semicolons only": fill("mx.example.pl", ";"),
    "over the limit": "x" * (LIMIT * 64),
}


def slowest(run, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return max(times)


def parse_quietly(value: str) -> str:
    try:
        parse_header(value)
        return "read"
    except AuthResError as error:
        return f"refused ({error})"


def main() -> None:
    start = time.perf_counter()
    organisational_domain("firma.pl")
    print(f"{'public suffix list, first use':<44} {time.perf_counter() - start:8.4f} s")
    timings = {}
    for name, value in CASES.items():
        outcome = parse_quietly(value)
        timings[name] = slowest(lambda v=value: parse_quietly(v))
        print(f"{name:<44} {timings[name]:8.4f} s  {len(value):>7} chars, {outcome}")

    # A message whose every field claims our authserv-id (a server that keeps forged ones): one
    # field of ours, then the readable worst cases, slowest first.
    readable = [
        name for name in sorted(CASES, key=timings.get, reverse=True) if parse_quietly(CASES[name]) == "read"
    ]
    ours = "mx.example.pl; dkim=pass header.d=firma.pl"
    message = [ours] + [CASES[readable[index % len(readable)]] for index in range(MAX_FIELDS_READ + 10)]
    duration = slowest(lambda: sender_verdict(message, "firma.pl", "mx.example.pl", microsoft=False))
    print(f"{f'sender_verdict, {len(message)} fields claiming ours':<44} {duration:8.4f} s")
    id_less = [value.removeprefix("mx.example.pl;") for value in message]
    duration = slowest(lambda: sender_verdict(id_less, "firma.pl", None, microsoft=True))
    print(f"{'the same without authserv-ids, Microsoft':<44} {duration:8.4f} s")
    messages = [[value] for index in range(1000) for value in [message[index % len(message)]]]
    duration = slowest(lambda: propose_authserv_id(messages), 1)
    print(f"{'propose_authserv_id, 1000 messages':<44} {duration:8.4f} s")


if __name__ == "__main__":
    main()
