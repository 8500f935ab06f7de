"""Talking to the SMTP server: one connection per batch, errors sorted by what to do next.

- `SmtpUnavailable`: the server cannot take mail right now (connection dropped
  during a message, 421). Stop the batch; everything stays queued.
  `SmtpNotReached`, its kind, says no session could be had at all (refused
  connection, failed login): nothing of any message was sent.
- `SmtpRefused`: the server refused this one message. `permanent` (5xx) gives up
  on it; a 4xx is retried later with backoff.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any, Self

from pipeline.alerts.headers import clean_display_name, wire_bytes
from pipeline.config import Settings

log = logging.getLogger(__name__)

SMTP_TIMEOUT_S = 30.0


class SmtpUnavailable(RuntimeError):
    """The server is down or unusable; nothing about the message itself."""


class SmtpNotReached(SmtpUnavailable):
    """No session to send in (refused connection, failed login): nothing of a message was sent."""


class _SessionGone(Exception):
    """The server closed a session before MAIL FROM was accepted."""


class SmtpRefused(RuntimeError):
    """The server refused this message."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code

    @property
    def permanent(self) -> bool:
        return self.code >= 500


def sender_address(settings: Settings) -> Address:
    """The From address from NEWSMON_MAIL_FROM ("Name <addr@host>" or a bare address)."""
    name, addr = parseaddr(settings.mail_from)
    if "@" not in addr:
        raise ValueError(f"alerts: NEWSMON_MAIL_FROM {settings.mail_from!r} has no address")
    username, domain = addr.rsplit("@", 1)
    return Address(display_name=clean_display_name(name), username=username, domain=domain)


class Mailer:
    """Sends messages over one lazily opened SMTP connection.

        with Mailer(settings) as mailer:
            reply = mailer.send(message)   # "250 2.0.0 Ok: queued as ..."
    """

    def __init__(self, settings: Settings, *, ssl_context: ssl.SSLContext | None = None,
                 timeout_s: float = SMTP_TIMEOUT_S) -> None:
        if settings.smtp_security not in {"none", "starttls", "ssl"}:
            raise ValueError("alerts: NEWSMON_SMTP_SECURITY must be none, starttls or ssl")
        self._settings = settings
        self._ssl_context = ssl_context
        self._timeout_s = timeout_s
        self._smtp: smtplib.SMTP | None = None
        self._helo_name = sender_address(settings).domain or "localhost"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    @property
    def _where(self) -> str:
        return f"{self._settings.smtp_host}:{self._settings.smtp_port}"

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        s = self._settings
        try:
            if s.smtp_security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, local_hostname=self._helo_name,
                    timeout=self._timeout_s, context=self._context())
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, local_hostname=self._helo_name,
                                    timeout=self._timeout_s)
            smtp.ehlo()
            if s.smtp_security == "starttls":
                # Never fall back to plain text when STARTTLS was asked for.
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise SmtpNotReached(f"smtp: login to {self._where} failed: {_reply(exc)}") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise SmtpNotReached(f"smtp: {self._where}: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SmtpNotReached(f"smtp: cannot connect to {self._where}: {_reply(exc)}") from exc
        return smtp

    def open(self) -> None:
        """Connect unless connected (raises SmtpNotReached)."""
        if self._smtp is None:
            self._smtp = self._connect()

    def send(self, message: EmailMessage) -> str:
        """Send one message; returns the server's reply to DATA (e.g. with its queue id).

        A kept connection the server has closed since (idle timeout, restart,
        per-connection limit) is noticed at MAIL FROM, before anything of the
        message was sent, and replaced once.
        """
        reused = self._smtp is not None
        self.open()
        try:
            return self._transact(message)
        except _SessionGone as exc:
            if not reused:
                raise SmtpNotReached(f"smtp: {self._where} closed the session: {exc}") from exc
        self.open()
        try:
            return self._transact(message)
        except _SessionGone as exc:
            raise SmtpNotReached(f"smtp: {self._where} closed the session: {exc}") from exc

    def _transact(self, message: EmailMessage) -> str:
        smtp = self._smtp
        sender = message["From"].addresses[0].addr_spec
        recipients = [a.addr_spec for a in message["To"].addresses]
        data = wire_bytes(message)  # the bytes render's check_message re-parsed
        try:
            reply = smtp.mail(sender)
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise _SessionGone(_reply(exc)) from exc
        if reply[0] == 421:  # "closing channel": nothing of this message was sent yet
            self._drop()
            raise _SessionGone(f"{reply[0]} {reply[1].decode(errors='replace')}")
        try:
            try:
                self._expect(reply, (250,), "MAIL FROM")
                for rcpt in recipients:
                    self._expect(smtp.rcpt(rcpt), (250, 251), f"RCPT TO {rcpt}")
                code, text = smtp.data(data)  # raises SMTPDataError if DATA itself is refused
                self._expect((code, text), (250,), "DATA")
            except smtplib.SMTPResponseException as exc:
                raise SmtpRefused(f"smtp: DATA refused: {_reply(exc)}", code=exc.smtp_code) \
                    from exc
        except SmtpRefused as exc:
            if exc.code == 421 or exc.code < 400:  # closing channel, or nonsense
                self._drop()
                raise SmtpUnavailable(f"smtp: {self._where} not accepting mail: {exc}") from exc
            self._reset()
            raise
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise SmtpUnavailable(f"smtp: connection to {self._where} lost: {_reply(exc)}") \
                from exc
        return f"{code} {text.decode(errors='replace')}"

    @staticmethod
    def _expect(reply: tuple[int, bytes], ok: tuple[int, ...], step: str) -> None:
        code, text = reply
        if code not in ok:
            raise SmtpRefused(f"smtp: {step} refused: {code} {text.decode(errors='replace')}",
                              code=code)

    def _reset(self) -> None:
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None


def _reply(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}"
    return str(exc) or type(exc).__name__


def smtp_settings_from_connection(settings: Settings, *, host: str | None, port: int | None,
                                  login: str | None, password: str | None,
                                  extra: dict[str, Any] | None = None) -> Settings:
    """Settings with the SMTP fields taken from an Airflow `smtp_default` connection.

    The DAG adapter reads the connection and passes its plain fields here, so this
    package never imports Airflow. Extras follow the Airflow SMTP provider:
    `disable_ssl` (default false: implicit TLS), `disable_tls`, `from_email`.
    """
    extra = extra or {}

    def flag(name: str) -> bool:
        return str(extra.get(name, "false")).strip().lower() in {"1", "true", "yes", "on"}

    if not flag("disable_ssl"):
        security = "ssl"
    elif not flag("disable_tls"):
        security = "starttls"
    else:
        security = "none"
    changes: dict[str, Any] = {"smtp_security": security, "smtp_user": login or None,
                               "smtp_password": password or None}
    if host:
        changes["smtp_host"] = host
    if port:
        changes["smtp_port"] = int(port)
    if extra.get("from_email"):
        changes["mail_from"] = str(extra["from_email"])
    return settings.replace(**changes)
