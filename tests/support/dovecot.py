"""A private Dovecot 2.3 on free loopback ports, for IMAP integration tests.

Why: the mail check must be proven against a real server (TLS and STARTTLS, MOVE, SPECIAL-USE,
both namespace styles, UIDVALIDITY changes, crashes and hangs), which no mock reproduces.
The helpers below talk to it through the standard library's ``imaplib`` only, so they do not
depend on the production IMAP code they are used to test.

Facts this relies on are in /work/shared/notes/dovecot.md. Dovecot 2.3 syntax only (2.4 renamed
many settings).
"""

from __future__ import annotations

import base64
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from types import TracebackType
from typing import Literal, NamedTuple, TypedDict

import trustme

from tests.support.ports import free_port

Namespace = Literal["fs", "courier"]

HOST = "127.0.0.1"
START_TIMEOUT = 10.0
# A master normally exits ~1 s after SIGTERM, but now and then waits seconds for a login process
# that was still starting; past this, stop() kills what is left.
GRACEFUL_STOP_TIMEOUT = 2.0
KILL_TIMEOUT = 5.0
IMAP_TIMEOUT = 10.0
_LOGIN_RE = re.compile(r"[A-Za-z0-9._@+-]+")
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


class Mailbox(NamedTuple):
    """One LIST line: decoded name, hierarchy delimiter and attributes (incl. SPECIAL-USE)."""

    name: str
    delimiter: str | None
    flags: frozenset[str]


class FolderMessage(TypedDict):
    """One message of a folder as ``list_folder`` reports it."""

    uid: int
    flags: frozenset[str]
    message_id: str | None


def encode_mailbox(name: str) -> str:
    """Modified UTF-7 (RFC 3501 5.1.3), because Dovecot 2.3 has no UTF8=ACCEPT."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            b64 = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + b64.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def decode_mailbox(name: str) -> str:
    """Inverse of :func:`encode_mailbox`."""

    def chunk(match: re.Match[str]) -> str:
        b64 = match.group(1).replace(",", "/")
        return base64.b64decode(b64 + "=" * (-len(b64) % 4)).decode("utf-16-be") if b64 else "&"

    return re.sub(r"&([^-]*)-", chunk, name)


def _quote(name: str) -> str:
    """An IMAP quoted string of the encoded name (imaplib does not quote arguments)."""
    encoded = encode_mailbox(name)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(token: bytes) -> str:
    text = token.decode("ascii")
    if text.startswith('"') and text.endswith('"'):
        text = re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def _check(response: tuple[str, list], what: str) -> list:
    typ, data = response
    if typ != "OK":
        raise imaplib.IMAP4.error(f"{what}: {typ} {data!r}")
    return data


def _mail_owner() -> tuple[int, int]:
    """uid/gid that owns the mail: Dovecot never accesses mail as root."""
    if os.geteuid() == 0:
        return pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
    return os.getuid(), os.getgid()


def _proc_info(pid: int) -> tuple[str, int, bytes] | None:
    """(state, session id, cmdline) of a process, None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0], int(fields[3]), cmdline


class DovecotServer:
    """A Dovecot master with its own config, certificate, users and maildirs in a short temp dir.

    ``namespace="fs"``: separator ``/``, no prefix (``Junk``). ``namespace="courier"``: separator
    ``.``, prefix ``INBOX.``, Maildir++ (``INBOX.Junk``). Both auto-create ``Junk`` (``\\Junk``),
    ``Sent``, ``Trash`` and a plain ``Spam`` without any flag, a trap for name-only matching.
    """

    def __init__(self, namespace: Namespace = "fs") -> None:
        if namespace not in ("fs", "courier"):
            raise ValueError(f"unknown namespace {namespace!r}")
        self.namespace: Namespace = namespace
        # Short path: Unix sockets live below it (~108 bytes max). Its name is also the
        # instance_name, which appears in every process title, so stragglers can be found.
        self.root = Path(tempfile.mkdtemp(prefix="ekdc-", dir="/tmp"))
        self.root.chmod(0o755)
        self.instance_name = self.root.name
        self.prefix = "INBOX." if namespace == "courier" else ""
        self.delimiter = "." if namespace == "courier" else "/"
        self.conf_path = self.root / "dovecot.conf"
        self.log_path = self.root / "dovecot.log"
        self.ca_path = self.root / "ca.pem"
        self._users_dir = self.root / "users"
        self.imap_port = free_port(HOST)
        self.imaps_port = free_port(HOST)
        self._proc: subprocess.Popen[bytes] | None = None
        self._paused = False
        try:
            self._write_certificate()
            for directory in (self._users_dir, self.root / "home"):
                directory.mkdir()
                directory.chmod(0o755)
            self.conf_path.write_text(self._config())
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The master's pid while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self) -> DovecotServer:
        """Start (or restart after kill/stop) on the same ports and mail; wait for the greeting."""
        if self.pid is not None:
            raise RuntimeError("Dovecot is already running")
        # A killed master leaves master.pid behind; Dovecot refuses to start while that pid lives.
        (self.root / "run" / "master.pid").unlink(missing_ok=True)
        dovecot = shutil.which("dovecot", path=_SEARCH_PATH) or "dovecot"
        with (self.root / "stderr.log").open("ab") as out:
            self._proc = subprocess.Popen(
                [dovecot, "-F", "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self._end_processes(graceful=False)
            raise
        return self

    def stop(self, keep_files: bool = False) -> None:
        """SIGTERM the master, kill whatever of the instance is left, then delete the temp dir.

        ``keep_files=True`` keeps mail, users and ports for a clean restart with :meth:`start`.
        """
        self._end_processes(graceful=True)
        if not keep_files:
            shutil.rmtree(self.root, ignore_errors=True)

    def kill(self) -> None:
        """Crash: SIGKILL the master and all its processes. Clients see EOF, the ports refuse."""
        self._end_processes(graceful=False)

    def pause(self) -> None:
        """SIGSTOP every process: connections are accepted by the kernel but never answered."""
        for pid in self.processes():
            # Short-lived helpers (auth, config) may exit between the listing and the signal.
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT every process stopped by :meth:`pause`."""
        for pid in self.processes():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self._paused = False

    def processes(self) -> list[int]:
        """Live (non-zombie) pids of this instance: its master's session, or its name in the title."""
        sid = self._proc.pid if self._proc is not None else None
        marker = self.instance_name.encode()
        found = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            info = _proc_info(int(entry.name))
            if info is None or info[0] == "Z":
                continue
            if info[1] == sid or marker in info[2]:
                found.append(int(entry.name))
        return found

    def __enter__(self) -> DovecotServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"dovecot exited at start:\n{self._logs()}")
            try:
                # The master binds both listeners before serving either, so a greeting on the
                # plain port means imaps is up too (probing it risks the shutdown stall above).
                with socket.create_connection((HOST, self.imap_port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot did not greet within {START_TIMEOUT} s:\n{self._logs()}")
            time.sleep(0.02)

    def _end_processes(self, graceful: bool) -> None:
        if self._paused:
            self.resume()
        if self._proc is not None and graceful and self._proc.poll() is None:
            self._proc.terminate()
            with suppress(subprocess.TimeoutExpired):
                self._proc.wait(GRACEFUL_STOP_TIMEOUT)
        deadline = time.monotonic() + KILL_TIMEOUT
        while pids := self.processes():
            for pid in pids:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if self._proc is not None:
                self._proc.poll()  # reap the master so it does not linger as a zombie
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot processes {pids} survived SIGKILL")
            time.sleep(0.01)
        if self._proc is not None:
            self._proc.wait()
            self._proc = None

    def _logs(self) -> str:
        parts = [
            p.read_text(errors="replace") for p in (self.root / "stderr.log", self.log_path) if p.exists()
        ]
        return "\n".join(parts)

    # -- configuration -----------------------------------------------------------------------

    def _write_certificate(self) -> None:
        ca = trustme.CA()
        cert = ca.issue_cert(HOST, "localhost")
        ca.cert_pem.write_to_path(str(self.ca_path))
        (self.root / "cert.pem").write_bytes(b"".join(pem.bytes() for pem in cert.cert_chain_pems))
        cert.private_key_pem.write_to_path(str(self.root / "key.pem"))

    def _config(self) -> str:
        uid, gid = _mail_owner()
        if os.geteuid() == 0:
            identity = "default_login_user = dovenull\ndefault_internal_user = dovecot\n"
        else:
            user, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
            identity = (
                f"default_login_user = {user}\ndefault_internal_user = {user}\n"
                f"default_internal_group = {group}\n"
            )
        layout = ":LAYOUT=fs" if self.namespace == "fs" else ""
        prefix = f"  prefix = {self.prefix}\n" if self.prefix else ""
        mailboxes = "".join(
            f"  mailbox {name} {{\n{use}    auto = subscribe\n  }}\n"
            for name, use in [
                ("Junk", "    special_use = \\Junk\n"),
                ("Spam", ""),
                ("Sent", "    special_use = \\Sent\n"),
                ("Trash", "    special_use = \\Trash\n"),
            ]
        )
        return f"""\
instance_name = {self.instance_name}
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.log_path}
mail_debug = no
auth_verbose = yes
protocols = imap
listen = {HOST}
ssl = yes
ssl_cert = <{self.root}/cert.pem
ssl_key = <{self.root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {uid}
{identity}mail_location = maildir:~/Maildir{layout}
mail_fsync = never
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self._users_dir}/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self._users_dir}/%u
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
# No chroot: a non-root master cannot chroot (and tests gain nothing from it).
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {HOST}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {self.imaps_port}
    ssl = yes
  }}
}}
namespace inbox {{
  inbox = yes
  separator = {self.delimiter}
{prefix}{mailboxes}}}
"""

    # -- users -------------------------------------------------------------------------------

    def add_user(self, login: str, password: str) -> None:
        """Add a user; it can log in at once, also while the server runs.

        One passwd-file per user (``users/%u``): Dovecot stats a known passwd-file at most once
        a second, so a user appended to a shared file could be refused for up to a second, but a
        file it has never opened is read on the first lookup.
        """
        if not _LOGIN_RE.fullmatch(login):
            raise ValueError(f"login {login!r} must match {_LOGIN_RE.pattern}")
        if any(c in password for c in ":\r\n"):
            raise ValueError("a passwd-file password cannot contain ':' or line breaks")
        uid, gid = _mail_owner()
        home = self.root / "home" / login
        home.mkdir()  # FileExistsError for a duplicate login
        os.chown(home, uid, gid)
        tmp = self._users_dir / f".{login}.tmp"
        tmp.write_text(f"{login}:{{PLAIN}}{password}:{uid}:{gid}::{home}::\n")
        tmp.chmod(0o644)
        tmp.replace(self._users_dir / login)

    # -- imaplib helpers ---------------------------------------------------------------------

    @contextmanager
    def imap(self, user: str, password: str, tls: bool = False) -> Iterator[imaplib.IMAP4]:
        """A logged-in imaplib connection on the plain port (STARTTLS with the test CA if ``tls``)."""
        conn = imaplib.IMAP4(HOST, self.imap_port, timeout=IMAP_TIMEOUT)
        try:
            if tls:
                conn.starttls(self.ssl_context())
            conn.login(user, password)
            yield conn
        finally:
            with suppress(OSError):  # the server is gone; logout() has closed the socket anyway
                conn.logout()

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only this server's test CA."""
        return ssl.create_default_context(cafile=str(self.ca_path))

    def mailboxes(self, user: str, password: str) -> list[Mailbox]:
        """Every folder with its LIST attributes, names decoded from modified UTF-7."""
        with self.imap(user, password) as conn:
            data = _check(conn.list('""', "*"), "LIST")
        result = []
        for item in data:
            if not item:
                continue  # the empty rest of a line whose name came as a literal
            head, literal = item if isinstance(item, tuple) else (item, None)
            match = re.match(rb"\(([^)]*)\) (NIL|\"(?:[^\"\\]|\\.)*\") (.*)$", head)
            if match is None:
                raise imaplib.IMAP4.error(f"cannot parse LIST line {item!r}")
            attrs, delim, name = match.groups()
            result.append(
                Mailbox(
                    name=decode_mailbox(literal.decode() if literal is not None else _unquote(name.strip())),
                    delimiter=None if delim == b"NIL" else _unquote(delim),
                    flags=frozenset(attrs.decode("ascii").split()),
                )
            )
        return result

    def folders(self, user: str, password: str) -> list[str]:
        """Folder names only (full names, i.e. with the namespace prefix)."""
        return [mailbox.name for mailbox in self.mailboxes(user, password)]

    def create_folder(self, user: str, password: str, folder: str) -> None:
        """Create (and subscribe) a folder; parents are created by Dovecot as needed."""
        with self.imap(user, password) as conn:
            _check(conn.create(_quote(folder)), f"CREATE {folder}")
            _check(conn.subscribe(_quote(folder)), f"SUBSCRIBE {folder}")

    def append(
        self,
        user: str,
        password: str,
        folder: str,
        raw: bytes,
        flags: Iterable[str] = (),
        date: datetime | None = None,
    ) -> int:
        """APPEND a message and return its UID (from APPENDUID). Line endings become CRLF.

        ``date`` (timezone-aware) sets INTERNALDATE, which servers show as the received time.
        """
        with self.imap(user, password) as conn:
            data = _check(conn.append(_quote(folder), " ".join(flags) or None, date, raw), f"APPEND {folder}")
        match = re.search(rb"\[APPENDUID \d+ (\d+)\]", data[-1])
        if match is None:
            raise imaplib.IMAP4.error(f"no APPENDUID in {data!r}")
        return int(match.group(1))

    def list_folder(self, user: str, password: str, folder: str) -> list[FolderMessage]:
        """UID, flags and Message-ID of every message, read-only (EXAMINE), in UID order."""
        with self.imap(user, password) as conn:
            count = int(_check(conn.select(_quote(folder), readonly=True), f"EXAMINE {folder}")[0])
            if count == 0:
                return []
            data = _check(
                conn.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"), "FETCH"
            )
        messages = []
        for item in data:
            head, header = item if isinstance(item, tuple) else (item, b"")
            uid = re.search(rb"UID (\d+)", head)
            if uid is None:
                continue  # the closing b")" after a literal
            flags = re.search(rb"FLAGS \(([^)]*)\)", head)
            message_id = BytesHeaderParser(policy=compat32).parsebytes(header).get("Message-ID")
            messages.append(
                FolderMessage(
                    uid=int(uid.group(1)),
                    flags=frozenset(flags.group(1).decode("ascii").split() if flags else ()),
                    message_id=str(message_id).strip() if message_id is not None else None,
                )
            )
        return sorted(messages, key=lambda message: message["uid"])

    def fetch(self, user: str, password: str, folder: str, uid: int) -> bytes:
        """The raw message as the server stores it (CRLF line endings), without setting \\Seen."""
        with self.imap(user, password) as conn:
            _check(conn.select(_quote(folder), readonly=True), f"EXAMINE {folder}")
            data = _check(conn.uid("FETCH", str(uid), "(BODY.PEEK[])"), "FETCH")
        for item in data:
            if isinstance(item, tuple):
                return item[1]
        raise KeyError(f"no message with UID {uid} in {folder}")

    def uidvalidity(self, user: str, password: str, folder: str) -> int:
        """The folder's current UIDVALIDITY (STATUS)."""
        with self.imap(user, password) as conn:
            data = _check(conn.status(_quote(folder), "(UIDVALIDITY)"), f"STATUS {folder}")
        match = re.search(rb"UIDVALIDITY (\d+)", data[0])
        if match is None:
            raise imaplib.IMAP4.error(f"no UIDVALIDITY in {data!r}")
        return int(match.group(1))

    def set_uidvalidity(self, user: str, folder: str, value: int) -> None:
        """Force a folder's UIDVALIDITY with ``doveadm mailbox update`` on the private config.

        Messages and their UIDs stay. A session that has the folder selected gets
        ``* BYE IMAP session state is inconsistent, please relogin.`` on its next command.
        """
        doveadm = shutil.which("doveadm", path=_SEARCH_PATH) or "doveadm"
        command = [doveadm, "-c", str(self.conf_path), "mailbox", "update"]
        command += ["-u", user, "--uid-validity", str(value), folder]
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {result.stderr}")

    def reset_uidvalidity(self, user: str, password: str, folder: str) -> int:
        """Give the folder a new (higher) UIDVALIDITY, keeping its messages; returns the new value.

        This is what a client sees when a server rebuilds or restores a folder: every cached
        UID of that folder is void.
        """
        new = self.uidvalidity(user, password, folder) + 1
        self.set_uidvalidity(user, folder, new)
        return new
