"""One family of errors with a message for humans, and the exit code each maps to.

The CLI has one handler for `UserError`; everything else is a bug and shows a traceback.
Order-level problems (`OrderError`) never leave the engine: they become log rows.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ORDER_ERRORS = 1
EXIT_USAGE = 2
EXIT_TEMPFAIL = 75  # another run holds the lock, or a temporary failure (EX_TEMPFAIL)
EXIT_NOPERM = 77  # credentials rejected (EX_NOPERM)
EXIT_CONFIG = 78  # config invalid (EX_CONFIG)
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM (128 + SIGINT, as shells say it)
INTERRUPTED = "iexsync: interrupted; the next run carries on"


class Interrupted(Exception):
    """SIGTERM: the process stops as after Ctrl-C (raised by the handler `on_sigterm` installs)."""


def on_sigterm() -> None:
    """From now on SIGTERM stops the process as Ctrl-C does: the work in hand is abandoned
    the way exactly-once allows (open intents are resolved by the next run)."""
    try:  # the C module `signal` wraps: signal.py builds three enums on import, 0.4 ms of a log search
        import _signal as signal
    except ImportError:  # another Python than CPython
        import signal  # type: ignore[no-redef]

    def stop(_signum: int, _frame: object) -> None:
        raise Interrupted()

    signal.signal(signal.SIGTERM, stop)


class UserError(Exception):
    """An error whose message is meant for the person running iexsync."""

    exit_code = EXIT_ORDER_ERRORS


class UsageError(UserError):
    """A command line that cannot work as given (a bad --url): exit 2, as click's own."""

    exit_code = EXIT_USAGE


class ConfigError(UserError):
    exit_code = EXIT_CONFIG

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = problems
        self.source = source
        where = f" in {source}" if source else ""
        lines = [f"The config{where} has {len(problems)} problem(s):"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))


class LockBusy(UserError):
    exit_code = EXIT_TEMPFAIL


class TemporaryFailure(UserError):
    """The run as a whole could not go on now (shop unreachable, disk full); try again later."""

    exit_code = EXIT_TEMPFAIL


class CredentialsRejected(UserError):
    exit_code = EXIT_NOPERM


class LogUnavailable(UserError):
    """The SQLite log cannot be opened or written (path, permissions, disk)."""

    exit_code = EXIT_TEMPFAIL


class NoLog(UserError):
    """There is no log where the config says: usually the wrong --config, or no run yet."""

    def __init__(self, message: str, exit_code: int = EXIT_ORDER_ERRORS):
        super().__init__(message)
        self.exit_code = exit_code


class NoSuchOrder(UserError):
    """`sync --order` named an order neither the log nor the shop knows."""


class OrderError(Exception):
    """Something about one order; it is logged for that order and the run goes on.

    `transient` errors (network, 429, 5xx) are retried on every later run; permanent ones
    (validation) when the order or the config changes, or on demand.
    """

    transient = False

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class OrderInvalid(OrderError):
    """The shop's order cannot be read into the canonical model (what field, what value)."""


class OrderNotFound(OrderInvalid):
    """The shop has no order with this id (`sync --order` says "no such order")."""


class MappingError(OrderError):
    """The order is readable but cannot become a document under this config."""


class RemoteRejected(OrderError):
    """The accounting system refused the document (validation) and said why."""


class RemoteUnavailable(OrderError):
    """Network trouble, rate limit or a 5xx: nothing is wrong with the order; retried later."""

    transient = True


class OutcomeUnknown(RemoteUnavailable):
    """A write was sent and its answer never came: resolved by lookup, never by blind retry."""


class DocumentExists(OrderError):
    """The accounting system already holds a document with this reference (it says so on
    create): the engine records that document instead of writing another."""

    def __init__(self, ref: object):
        super().__init__(f"a document with reference {getattr(ref, 'reference', ref)} exists already")
        self.ref = ref
