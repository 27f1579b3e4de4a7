"""Telling a human: a mail when an order fails or a warning asks for action for the first
time, an optional daily digest, and a ping URL (healthchecks.io style) for each run.

Only what a run *logged* is news: the log writes a repeated error or warning once, so a
mail goes out the first time, not on every retry. Sending never stops or fails a run: a
mail server or ping URL that cannot be reached is said on stderr (a logging warning) and
the run's own result stands. Mail goes by Python's smtplib (STARTTLS, SSL or plain with
login); a password never travels in clear to a host other than this machine.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from iexsync.redaction import redact
from iexsync.timeutil import iso, parse_time, utc_now

log = logging.getLogger("iexsync.notify")

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def _mail_settings(section: Mapping[str, Any]) -> dict[str, Any]:
    """`notify.email` (its schema defaults filled in by config), with the port for its security."""
    settings = dict(section)
    settings.setdefault("port", {"starttls": 587, "ssl": 465, "none": 25}[settings["security"]])
    return settings


class Notifier:
    def __init__(self, section: Mapping[str, Any], shop_name: str = ""):
        self.mail = _mail_settings(section["email"]) if section.get("email") else None
        self.ping_url = section.get("ping_url", "").rstrip("/")
        self.shop_name = shop_name

    def wants_status(self) -> bool:
        """Whether `finished` needs the status report (a digest may be due)."""
        return bool(self.mail and self.mail["digest"])

    # --- the run -------------------------------------------------------------------------
    def started(self) -> None:
        self._ping("/start", "")

    def finished(self, events: Sequence[Any], counts: Mapping[str, int], memory: Any = None,
                 status: Mapping[str, Any] | None = None) -> None:
        """After a run: mail its new errors and warnings; the digest if one is due; the ping."""
        if memory is not None and memory.recall(self._FAILED) is not None:
            memory.forget(self._FAILED)  # runs finish again: the next failure is news
        news = [event for event in events if event.outcome in ("error", "warning")]
        if news and self.mail:
            errors = sum(1 for event in news if event.outcome == "error")
            warnings = len(news) - errors
            subject = "iexsync: " + ", ".join(part for part in (
                f"{errors} order(s) failed" if errors else "", f"{warnings} warning(s) ask for action" if warnings else "")
                if part)
            lines = [f"order {e.order}" + (f" ({e.document})" if e.document else "") + f": {e.outcome}: {e.message}"
                     for e in news]
            self.send(subject, "\n".join(lines) + "\n\n`iexsync log show ORDER` has each order's whole history.\n")
        if self.mail and self.mail["digest"] and memory is not None and status is not None:
            self._digest(memory, status)
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "nothing new"
        self._ping("/fail" if counts.get("error") else "", summary)

    _FAILED = "notify:run-failed"  # the reason last mailed for a run that stopped, until one finishes

    def failed(self, reason: str, memory: Any = None) -> None:
        """The run stopped before finishing (the shop unreachable, keys rejected...): mailed
        the first time, not again every 5 minutes for the same reason (`memory`, the log's)."""
        self._ping("/fail", reason)
        if not self.mail:
            return
        try:
            if memory is not None and memory.recall(self._FAILED) == reason:
                return
        except Exception:  # the log itself is what failed: better a mail too many than none
            memory = None
        if self.send("iexsync: a run failed", f"{reason}\n\nThe next run carries on; `iexsync status` shows the state.\n") \
                and memory is not None:
            try:
                memory.remember(self._FAILED, reason)
            except Exception:
                pass

    # --- the digest ------------------------------------------------------------------------
    def _digest(self, memory: Any, status: Mapping[str, Any]) -> None:
        key = "notify:digest"
        last = memory.recall(key)
        now = utc_now()
        if last and now - parse_time(last, "the last digest") < timedelta(hours=24):
            return
        lines = [f"iexsync daily digest ({status.get('status')})", ""]
        run = status.get("last_finished_run") or {}
        counts = ", ".join(f"{n} {o}" for o, n in sorted((run.get("counts") or {}).items())) or "nothing new"
        lines.append(f"last finished run: {run.get('finished') or 'never'}: {counts}")
        for heading, key_ in (("in error", "errors"), ("warnings asking for action", "warnings"),
                              ("waiting for a retry", "retrying")):
            entries = status.get(key_) or []
            lines.append(f"{heading}: {len(entries)}")
            lines += [f"  order {e['order']}: {e['message']}" for e in entries]
        if self.send("iexsync: daily digest", "\n".join(lines) + "\n"):
            memory.remember(key, iso(now))

    # --- sending ---------------------------------------------------------------------------
    def send(self, subject: str, body: str) -> bool:
        """One mail to every recipient; False (and a warning on stderr) if it could not go."""
        import smtplib  # only when there is something to send
        import ssl
        from email.message import EmailMessage

        assert self.mail is not None
        mail = self.mail
        message = EmailMessage()
        message["Subject"] = redact(subject)
        message["From"] = mail["from"]
        message["To"] = ", ".join(mail["to"])
        message["Date"] = datetime.now().astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")
        message.set_content(redact(body))
        host, port, security = mail["host"], mail["port"], mail["security"]
        try:
            if security == "ssl":
                server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=mail["timeout"],
                                                        context=ssl.create_default_context())
            else:
                server = smtplib.SMTP(host, port, timeout=mail["timeout"])
            with server:
                if security == "starttls":
                    server.starttls(context=ssl.create_default_context())
                if mail.get("username"):
                    if security == "none" and host not in _LOOPBACK:
                        raise smtplib.SMTPException("refusing to send the password in clear: set security: starttls or ssl")
                    server.login(mail["username"], mail.get("password", ""))
                server.send_message(message)
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            log.warning("iexsync: could not send mail through %s:%s: %s", host, port, redact(str(exc)))
            return False
        return True

    def _ping(self, suffix: str, body: str) -> None:
        if not self.ping_url:
            return
        import requests

        try:
            requests.post(self.ping_url + suffix, data=redact(body).encode()[:10_000], timeout=10,
                          headers={"User-Agent": "iexsync"})
        except (requests.RequestException, OSError) as exc:
            log.warning("iexsync: could not ping %s: %s", redact(self.ping_url), redact(str(exc)))
