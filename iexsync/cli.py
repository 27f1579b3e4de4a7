"""The command line: parse, call `service`, format. No business logic lives here.

One handler maps every UserError to its message and exit code (see errors.py).
`--config FILE` is accepted before or after the command name. `sync` and `log search`
are run by `commands.py`, which `__main__.py` also calls directly for their common forms
(without importing click): what they do and print is written once, there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from iexsync import __version__
from iexsync.commands import TABLE_FORMATS
from iexsync.errors import Interrupted, UsageError, UserError

from iexsync.logsearch import OUTCOMES


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            from iexsync.redaction import redact

            click.echo(f"iexsync: {redact(str(exc))}", err=True)
            ctx.exit(exc.exit_code)
        except (KeyboardInterrupt, Interrupted):  # Ctrl-C, SIGTERM: as __main__ says it
            from iexsync.errors import EXIT_INTERRUPTED, INTERRUPTED

            click.echo(f"\n{INTERRUPTED}", err=True)
            ctx.exit(EXIT_INTERRUPTED)


def _remember_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.find_root().meta["iexsync.config"] = value


config_option = click.option(
    "--config", "-c", type=click.Path(dir_okay=False, path_type=Path), expose_value=False, callback=_remember_config,
    help="The config file (default: $IEXSYNC_CONFIG, then the platform's config folder).",
)


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """-q / -v given after a command name: the same as before it (`iexsync -q status`)."""
    if not value:
        return
    from iexsync import commands

    root = ctx.find_root().meta
    root["iexsync.verbosity"] = -1 if param.name == "quiet" else max(int(value), root.get("iexsync.verbosity", 0))
    commands.configure_logging(root["iexsync.verbosity"])


def verbosity_options(command: Any) -> Any:
    """-v/-vv and -q on a command, as on `iexsync` itself."""
    command = click.option("--quiet", "-q", is_flag=True, expose_value=False, callback=_set_verbosity,
                           help="Errors only.")(command)
    return click.option("--verbose", "-v", count=True, expose_value=False, callback=_set_verbosity,
                        help="More output; -vv adds each HTTP request and answer.")(command)


def _quiet(ctx: click.Context) -> bool:
    return ctx.find_root().meta.get("iexsync.verbosity", 0) < 0


format_option = click.option(
    "--format", "tablefmt", type=click.Choice(TABLE_FORMATS),
    help="The table's layout (tabulate's), e.g. github for pasting into a ticket.",
)


def _config_path(ctx: click.Context) -> Path | str:
    from iexsync import configfiles

    return ctx.find_root().meta.get("iexsync.config") or configfiles.default_config_path()


def _echo(text: str, err: bool = False) -> None:
    click.echo(text, err=err)


def _settings(ctx: click.Context):
    from iexsync import commands

    return commands.settings(_config_path(ctx), _echo)


@click.group(cls=_Group)
@config_option
@click.version_option(__version__, prog_name="iexsync")
@click.option("--verbose", "-v", count=True, help="More output, for every command: -vv adds each HTTP request and answer.")
@click.option("--quiet", "-q", is_flag=True, help="Errors only, for every command.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Transfer webshop orders into the books: exactly once, right to the cent."""
    from iexsync import commands

    ctx.meta["iexsync.verbosity"] = -1 if quiet else verbose
    commands.configure_logging(-1 if quiet else verbose)


@cli.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Decide everything and print the documents; write nothing.")
@click.option("--order", "order_ids", multiple=True, help="Only this order id (again, even if unchanged); repeatable.")
@click.option("--verbose", "-v", count=True, help="-v: the summary even when not on a terminal; -vv: every HTTP request and answer too.")
@click.option("--quiet", "-q", is_flag=True, help="Print errors only (no summary, no warnings).")
@click.option("--json", "as_json", is_flag=True, help="The run's summary as JSON on stdout (with --dry-run: the documents).")
@click.pass_context
def sync(ctx: click.Context, dry_run: bool, order_ids: tuple[str, ...], verbose: int, quiet: bool, as_json: bool) -> None:
    """Transfer every order that changed since the last run (run it from cron every 5 minutes)."""
    from iexsync import commands

    verbose = max(verbose, ctx.find_root().meta.get("iexsync.verbosity", 0))
    code = commands.sync(_config_path(ctx), dry_run=dry_run, order_ids=list(order_ids) or None, verbose=verbose,
                         echo=_echo, as_json=as_json, quiet=quiet or ctx.find_root().meta.get("iexsync.verbosity", 0) < 0)
    if code:
        ctx.exit(code)


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    from iexsync import durations

    if value is None:
        return None
    try:
        return durations.seconds(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command()
@config_option
@verbosity_options
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@click.option("--stale-after", default="1h", show_default=True, callback=_duration, metavar="DURATION",
              help="Exit 75 when no run finished within this long (30m, 12h, 2d).")
@click.pass_context
def status(ctx: click.Context, as_json: bool, stale_after: int) -> None:
    """Whether all is well: the last run, the cursor, orders in error or waiting, warnings
    asking for action, webhook deliveries waiting. Exit 0 all well, 1 an order needs a
    human, 75 no run finished within --stale-after."""
    from iexsync import commands

    code = commands.status(_config_path(ctx), as_json=as_json, stale_after=stale_after, echo=_echo, quiet=_quiet(ctx))
    if code:
        ctx.exit(code)


def _date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-01-31") from None


class _Progress:
    """click's progress bar on stderr: the count, then the rate and the time left, both
    from the orders done so far (known from the first order on: click's own ETA waits a
    second, by when a fast import is a third done)."""

    def __init__(self, total: int):
        import time

        self.started = time.monotonic()
        self.done = 0
        self.total = total
        # width=0: the bar takes what the terminal leaves, so the line never wraps (a wrapped
        # line is redrawn as a new line each time: a screenful of bars).
        self.bar = click.progressbar(length=total, label="importing", file=sys.stderr, show_pos=True, show_eta=False,
                                     item_show_func=lambda said: said, width=0)

    def __enter__(self) -> "_Progress":
        self.bar.__enter__()
        return self

    def update(self, n: int) -> None:
        import time

        self.done += n
        elapsed = time.monotonic() - self.started
        said = None
        if elapsed > 0 and self.done:
            rate = self.done / elapsed
            left = int(max(self.total - self.done, 0) / rate)
            said = f"{rate:.1f} orders/s  ETA {left // 3600}:{left % 3600 // 60:02}:{left % 60:02}"
        self.bar.update(n, said)

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)


@cli.command("import")
@config_option
@verbosity_options
@click.option("--from", "start", required=True, callback=_date, metavar="DATE",
              help="The first day (the shop's date) whose orders are imported; overrides transfer.start_date.")
@click.option("--to", "end", callback=_date, metavar="DATE", help="The last day (default: up to now).")
@click.option("--dry-run", is_flag=True, help="Decide everything and report; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="The closing report as JSON.")
@click.pass_context
def import_command(ctx: click.Context, start: Any, end: Any, dry_run: bool, as_json: bool) -> None:
    """Import the orders created in a window through the same rules as sync, with a progress
    bar on a terminal and a closing report. Interrupted, the next import carries on."""
    from iexsync import commands

    if end is not None and end < start:
        raise click.BadParameter(f"--to {end} is before --from {start}", param_hint="--to")
    progress = _Progress if sys.stderr.isatty() and not _quiet(ctx) else None
    code = commands.import_orders(_config_path(ctx), start, end, dry_run=dry_run, as_json=as_json, echo=_echo,
                                  progress=progress, quiet=_quiet(ctx))
    if code:
        ctx.exit(code)


@cli.group()
@config_option
def log() -> None:
    """The log of what became of each order."""


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--since 2d (a duration back from now) or 2026-03-01 (a date, local midnight) → an ISO time."""
    if value is None:
        return None
    from datetime import datetime, timedelta

    from iexsync.timeutil import iso, utc_now

    try:
        return iso(datetime.fromisoformat(value).astimezone())
    except ValueError:
        return iso(utc_now() - timedelta(seconds=_duration(ctx, param, value)))


@log.command("search")
@config_option
@verbosity_options
@click.argument("query", required=False)
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of a table.")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(min=1), help="At most this many events.")
@click.option("--outcome", type=click.Choice(OUTCOMES), help="Only events with this outcome.")
@click.option("--since", callback=_since, metavar="WHEN", help="Only events since then: 2d, 12h, 30m, or a date 2026-03-01.")
@click.option("--state", help="Only events of orders in this state (e.g. completed).")
@click.option("--run", "run_id", metavar="RUN", help="Only events of this run (its id, as `iexsync status` shows it).")
@format_option
@click.pass_context
def log_search(ctx: click.Context, query: str | None, as_json: bool, limit: int, outcome: str | None,
               since: str | None, state: str | None, run_id: str | None, tablefmt: str | None) -> None:
    """What became of an order: by number, id, e-mail, document number ("booked invoice 20003")
    or words in the message; QUERY may be left out when a filter is given."""
    from iexsync import commands

    filters = {"outcome": outcome, "since": since, "state": state, "run": run_id}
    if query is not None and not query.strip():
        raise click.BadParameter("an empty query matches nothing; give an order number, e-mail or words", param_hint="QUERY")
    if query is None and not any(filters.values()):
        raise click.UsageError("give a QUERY (an order number, e-mail, document or words) or a filter (--outcome, --since, --state, --run)")
    commands.log_search(_config_path(ctx), query, as_json=as_json, limit=limit, echo=_echo,
                        filters={k: v for k, v in filters.items() if v is not None}, tablefmt=tablefmt)


@log.command("prune")
@config_option
@verbosity_options
@click.option("--older-than", required=True, callback=_duration, metavar="DURATION",
              help="Remove history older than this (400d, 52w); what exactly-once needs is always kept.")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@click.option("--json", "as_json", is_flag=True, help="The counts as JSON.")
@click.pass_context
def log_prune(ctx: click.Context, older_than: int, dry_run: bool, as_json: bool) -> None:
    """Keep the log bounded: remove old events, payloads no event names any more, finished
    webhook deliveries and runs. Never the documents, intents, order status or cursors."""
    from iexsync import service

    counts = service.prune(_settings(ctx), older_than, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(counts))
        return
    said = ", ".join(f"{n} {what}" for what, n in counts.items())
    if _quiet(ctx):
        return
    click.echo(("would remove " if dry_run else "removed ") + said)


@log.command("show")
@config_option
@verbosity_options
@click.argument("order")
@click.option("--json", "as_json", is_flag=True, help="The history as JSON.")
@click.pass_context
def log_show(ctx: click.Context, order: str, as_json: bool) -> None:
    """One order's whole history, oldest first: each step, the order as the shop sent it and
    the document as it went to the accounting system (secrets removed), the documents it became."""
    from iexsync import commands

    commands.log_show(_config_path(ctx), order, as_json=as_json, echo=_echo)


@cli.command()
@config_option
@verbosity_options
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of a table.")
@format_option
@click.pass_context
def states(ctx: click.Context, as_json: bool, tablefmt: str | None) -> None:
    """The shop's order states, each marked allowed or not, with what it becomes."""
    from iexsync import commands, service

    rows = service.states(_settings(ctx))
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    click.echo(commands.table(
        [(r["state"], r["orders"], "yes" if r["allowed"] else "no", r["becomes"]) for r in rows],
        ("state", "orders", "allowed", "becomes"), tablefmt=tablefmt, fit=commands.terminal_width(),
    ))


@cli.group()
@config_option
def webhook() -> None:
    """Receive the shop's webhooks, so orders are transferred seconds after they change."""


@webhook.command("serve")
@config_option
@verbosity_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen on this address (put a TLS reverse proxy in front).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Listen on this port (0: any free one).")
@click.option("--max-body", default=2 * 1024 * 1024, show_default=True, type=click.IntRange(1024),
              help="Refuse deliveries larger than this many bytes (413).")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="Requests answered at once.")
@click.option("--trusted-proxy", metavar="IP", help="Take the client address from this proxy's X-Forwarded-For.")
@click.pass_context
def webhook_serve(ctx: click.Context, host: str, port: int, max_body: int, threads: int, trusted_proxy: str | None) -> None:
    """Answer POST /webhooks/<platform> and GET /health until SIGTERM or Ctrl-C."""
    import logging

    from iexsync import webhooks

    settings = _settings(ctx)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    def listening(server: Any) -> None:
        click.echo(f"iexsync: receiving webhooks at {server.url} (health: GET /health); stop with SIGTERM or Ctrl-C")
        sys.stdout.flush()

    webhooks.serve(settings, host=host, port=port, max_body=max_body, threads=threads, trusted_proxy=trusted_proxy,
                   on_listen=listening)
    click.echo("iexsync: stopped")


@webhook.command("register")
@config_option
@verbosity_options
@click.option("--url", required=True, help="The public https address the shop delivers to, e.g. https://example.com/webhooks/woocommerce.")
@click.pass_context
def webhook_register(ctx: click.Context, url: str) -> None:
    """Create the shop's order webhooks (created, updated) for URL, with shop.webhook_secret."""
    from iexsync import webhooks

    settings = _settings(ctx)
    for made in webhooks.register(settings, url):
        replaced = f" (replaces {', '.join(map(str, made['replaced']))})" if made["replaced"] else ""
        click.echo(f"{made['topic']}: webhook {made['id']}, {made['status']}{replaced}")
    note = webhooks.url_note(url, settings.shop["platform"])
    if note:
        click.echo(note, err=True)


@cli.group("config")
@config_option
def config_group() -> None:
    """Check the config, or print its JSON Schema."""


@config_group.command("check")
@config_option
@verbosity_options
@click.pass_context
def config_check(ctx: click.Context) -> None:
    """Validate the config and report every problem at once; changes nothing."""
    from iexsync import service

    settings = _settings(ctx)
    service.check_config(settings)
    ignored = [s for s in settings.transfer.per_state if s not in settings.transfer.allowed_states]
    for state in ignored:
        click.echo(f"note: transfer.per_state.{state} applies only once {state!r} is in transfer.allowed_states", err=True)
    if not _quiet(ctx):
        click.echo(f"{settings.path}: ok")


@config_group.command("init")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--shop", "shop", help="Where orders come from (a registered shop: woocommerce, shopify, file, ...).")
@click.option("--books", "books", help="Where documents go (a registered accounting system: economic, dinero, beancount, ...).")
@click.option("--shop-at", help="The shop's address (or folder, for the file shop).")
@click.option("--books-at", help="The ledger's path (beancount).")
@click.option("--start-date", help="The first day whose orders are transferred (default: today).")
@click.option("--force", is_flag=True, help="Replace an existing file.")
@click.option("--interactive/--no-interactive", default=None, help="Ask for what is not given (default: on a terminal).")
def config_init(path: Path | None, shop: str | None, books: str | None, shop_at: str | None, books_at: str | None,
                start_date: str | None, force: bool, interactive: bool | None) -> None:
    """Write a commented starter config (default: the platform's config file) and say what next."""
    import datetime as dt

    from iexsync import configfiles, starter

    shops, systems = starter.choices("shops"), starter.choices("books")
    for given, offered, option in ((shop, shops, "--shop"), (books, systems, "--books")):
        if given is not None and given not in offered:
            raise UsageError(f"{option} {given!r} is not one of {', '.join(offered)}")
    path = path or Path(configfiles.default_config_path())
    ask = sys.stdin.isatty() if interactive is None else interactive
    if ask:
        shop = shop or click.prompt("Shop", type=click.Choice(shops), default="woocommerce")
        asked = starter.asks("shops", shop)
        shop_at = shop_at or (click.prompt(asked[0], default=asked[1]) if asked else None)
        books = books or click.prompt("Accounting system", type=click.Choice(systems), default="economic")
        asked = starter.asks("books", books)
        books_at = books_at or (click.prompt(asked[0], default=asked[1]) if asked else None)
    shop, books = shop or "woocommerce", books or "economic"
    start = start_date or dt.date.today().isoformat()
    if path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = starter.render(shop, books, shop_at, books_at, start)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    click.echo(f"wrote {path}; edit it, then: iexsync config check --config {path}")


@config_group.command("schema")
def config_schema() -> None:
    """The JSON Schema of the config file, for editors that complete and check YAML."""
    from iexsync import config

    click.echo(json.dumps(config.full_schema(), indent=2))


def main() -> None:
    from iexsync.errors import on_sigterm

    on_sigterm()
    cli(prog_name="iexsync")
