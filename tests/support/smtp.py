"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd): records mail, misbehaves on demand.

    with SmtpServer() as smtp:
        settings = smtp.configure(settings)   # smtp_host/port/security pointed at it
        ... send ...
        assert [m.message["To"] for m in smtp.messages] == [...]

Misbehaviour, for reliability drills:
- `refuse(451)` / `refuse(550, times=2)`: answer the message data (or, with
  `stage="rcpt"`, the recipient) with that code instead of accepting it.
- `drop_connection(times=1)`: close the connection after the message data,
  before replying, so the client never learns whether it was taken (it was not).
- `go_down_after(n)`: accept n more messages, then drop the connection on the
  next one and stop listening: an outage in the middle of a batch.
- `stop()` / `start()`: refuse connections, then come back on the same port.
- `SmtpServer(messages_per_connection=n)`: close each connection after its
  n-th message (as servers with per-connection limits or idle timeouts do).
- `SmtpServer(security="starttls" | "ssl", tls=make_tls_files(dir))` serves
  STARTTLS or implicit TLS; `users={"name": "password"}` requires AUTH.

For pytest, the `smtp_server` fixture starts one and closes it afterwards.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Self

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


@dataclass(frozen=True, slots=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    tls: bool
    login: str | None

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert: Path
    key: Path


def make_tls_files(directory: Path) -> TlsFiles:
    """A self-signed certificate for localhost and 127.0.0.1 (trust it via SSL_CERT_FILE)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "newsmon test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False),
                       critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(cert=directory / "smtp-cert.pem", key=directory / "smtp-key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    return files


@dataclass(slots=True)
class _Refusal:
    code: int
    text: str
    stage: str
    times: int | None  # None: until `accept()`


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_RCPT(self, smtp: SMTP, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        refusal = self._server._take_refusal("rcpt")
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Any, envelope: Any) -> str:
        action = self._server._next_action()
        if action in {"drop", "down"}:
            smtp.transport.abort()
            if action == "down":
                self._server._close_listener()
            return "421 gone"  # never reaches the client: the connection is closed
        refusal = self._server._take_refusal("data")
        if refusal:
            return refusal
        reply = self._server._record(envelope, session, smtp)
        if self._server._connection_full(smtp):
            # Closed after the reply is written: the client finds out on its next command.
            asyncio.get_running_loop().call_soon(smtp.transport.close)
        return reply


class SmtpServer:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, security: str = "none",
                 tls: TlsFiles | None = None, users: dict[str, str] | None = None,
                 messages_per_connection: int | None = None) -> None:
        if security != "none" and tls is None:
            raise ValueError("smtp test server: TLS needs a certificate (make_tls_files)")
        self.host = host
        self.port = port
        self.security = security
        self._tls = tls
        self._users = users or {}
        self._per_connection = messages_per_connection
        self._counts: dict[int, int] = {}
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._refusals: list[_Refusal] = []
        self._drops = 0
        self._down_after: int | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="smtp-test-server")
        self._thread.start()
        self._listener: asyncio.Server | None = None
        self._protocols: set[SMTP] = set()

    # --- lifecycle ---

    def start(self) -> Self:
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        """Stop listening and cut every open connection (an outage)."""
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_up(self) -> bool:
        return self._listener is not None

    def configure(self, settings: Any) -> Any:
        """`settings` pointed at this server."""
        return settings.replace(smtp_host=self.host, smtp_port=self.port,
                                smtp_security=self.security)

    # --- what it received ---

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    # --- misbehaviour ---

    def refuse(self, code: int = 451, text: str | None = None, *, times: int | None = None,
               stage: str = "data") -> None:
        if stage not in {"data", "rcpt"}:
            raise ValueError("stage is data or rcpt")
        default = "4.3.0 try again later" if code < 500 else "5.7.1 rejected"
        with self._lock:
            self._refusals.append(_Refusal(code, text or default, stage, times))

    def drop_connection(self, *, times: int = 1) -> None:
        with self._lock:
            self._drops += times

    def go_down_after(self, accepted: int) -> None:
        with self._lock:
            self._down_after = accepted

    def accept(self) -> None:
        """Forget every misbehaviour: accept everything again."""
        with self._lock:
            self._refusals.clear()
            self._drops = 0
            self._down_after = None

    # --- inside the server's loop ---

    def _protocol(self) -> SMTP:
        context = None
        if self.security == "starttls":
            context = self._server_context()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # AUTH without STARTTLS: TLS already
            proto = self._smtp(context)
        self._protocols.add(proto)
        return proto

    def _smtp(self, context: ssl.SSLContext | None) -> SMTP:
        return SMTP(_Handler(self), hostname="smtp.test", tls_context=context,
                    require_starttls=self.security == "starttls",
                    # aiosmtpd only counts STARTTLS as TLS; implicit TLS is TLS too.
                    auth_required=bool(self._users),
                    auth_require_tls=self.security == "starttls",
                    authenticator=self._authenticate if self._users else None, loop=self._loop)

    def _server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self._tls.cert, self._tls.key)
        return context

    def _authenticate(self, server: SMTP, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode()
            if self._users.get(login) == auth_data.password.decode():
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    async def _start(self) -> None:
        if self._listener is not None:
            return
        self._listener = await self._loop.create_server(
            self._protocol, host=self.host, port=self.port, reuse_address=True,
            ssl=self._server_context() if self.security == "ssl" else None)
        self.port = self._listener.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._close_listener()
        for proto in list(self._protocols):
            if proto.transport is not None:
                proto.transport.abort()
        self._protocols.clear()
        await asyncio.sleep(0)

    def _close_listener(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _next_action(self) -> str:
        with self._lock:
            if self._down_after is not None:
                if self._down_after == 0:
                    self._down_after = None
                    return "down"
                self._down_after -= 1
            if self._drops:
                self._drops -= 1
                return "drop"
        return "accept"

    def _connection_full(self, smtp: SMTP) -> bool:
        if self._per_connection is None:
            return False
        self._counts[id(smtp)] = self._counts.get(id(smtp), 0) + 1
        return self._counts[id(smtp)] >= self._per_connection

    def _take_refusal(self, stage: str) -> str | None:
        with self._lock:
            for refusal in self._refusals:
                if refusal.stage != stage:
                    continue
                if refusal.times is not None:
                    refusal.times -= 1
                    if refusal.times <= 0:
                        self._refusals.remove(refusal)
                return f"{refusal.code} {refusal.text}"
        return None

    def _record(self, envelope: Any, session: Any, smtp: SMTP) -> str:
        received = Received(
            mail_from=envelope.mail_from, rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(envelope.original_content or b""),
            tls=smtp.transport.get_extra_info("ssl_object") is not None,
            login=session.auth_data if session.authenticated else None)
        with self._lock:
            self._messages.append(received)
            number = len(self._messages)
        return f"250 2.0.0 Ok: queued as T{number:05d}"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server
