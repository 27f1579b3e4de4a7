"""`iexsync` and `python -m iexsync` start here.

The two commands that run most often read their command line here, without click: cron's
`iexsync sync` every five minutes, and `iexsync log search` while a customer waits. Their
common forms — `[--config F] sync [--config F] [--dry-run] [--order ID]... [--verbose]` and
`[--config F] log search QUERY [--config F] [--json] [--limit N]` — go straight to
`commands.py`, which the click commands in `cli.py` call too, so both ways do and print the
same. Everything else (other commands, `--help`, an option not listed, a query starting
with "-", a config given that is a folder or cannot be read) goes to click, which defines
every command and says what is wrong with a command line.
"""

from __future__ import annotations

import sys


def main() -> None:
    from iexsync.errors import on_sigterm

    on_sigterm()  # SIGTERM stops as Ctrl-C does, with the same message and code
    code = run(sys.argv[1:])
    if code is None:
        from iexsync.cli import main as click_main

        click_main()
    sys.exit(code)


def run(args: list[str]) -> int | None:
    """Run a command line read here and return its exit status; None for one click reads."""
    parsed = _parse(args)
    if parsed is None:
        return None
    command, config_file, options = parsed
    from iexsync import commands, configfiles
    from iexsync.errors import Interrupted, UserError

    path = config_file if config_file is not None else configfiles.default_config_path()
    try:
        if command == "sync":
            return commands.sync(path, **options, echo=_echo)
        return commands.log_search(path, **options, echo=_echo)
    except UserError as exc:  # as cli's one handler says it
        from iexsync.redaction import redact

        _echo(f"iexsync: {redact(str(exc))}", err=True)
        return exc.exit_code
    except (KeyboardInterrupt, Interrupted):  # as cli's handler says it
        from iexsync.errors import EXIT_INTERRUPTED, INTERRUPTED

        _echo(f"\n{INTERRUPTED}", err=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `| head`: nothing more to say, and nothing said at exit either
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _parse(args: list[str]) -> tuple[str, str | None, dict] | None:
    config_file, at = None, 0
    while at < len(args) and args[at] not in ("sync", "log"):  # before the command: --config only
        value, at = _config_option(args, at)
        if value is None:
            return None
        config_file = value
    if args[at:at + 1] == ["sync"]:
        command, at = "sync", at + 1
        options: dict = {"dry_run": False, "order_ids": [], "verbose": False}
    elif args[at:at + 2] == ["log", "search"]:
        command, at = "log search", at + 2
        options = {"query": None, "as_json": False, "limit": 200}
    else:
        return None
    while at < len(args):
        arg = args[at]
        value, after = _config_option(args, at)
        if value is not None:
            config_file, at = value, after
            continue
        if command == "sync" and arg in ("--dry-run", "--verbose", "-v"):
            options["dry_run" if arg == "--dry-run" else "verbose"] = True
        elif command == "sync" and arg == "--order" and at + 1 < len(args):
            at += 1
            options["order_ids"].append(args[at])
        elif command == "sync" and arg.startswith("--order="):
            options["order_ids"].append(arg[8:])
        elif command != "sync" and arg == "--json":
            options["as_json"] = True
        elif command != "sync" and arg == "--limit" and at + 1 < len(args) and _positive(args[at + 1]):
            at += 1
            options["limit"] = int(args[at])
        elif command != "sync" and arg.startswith("--limit=") and _positive(arg[8:]):
            options["limit"] = int(arg[8:])
        elif command != "sync" and not arg.startswith("-") and arg.strip() and options["query"] is None:
            options["query"] = arg
        else:
            return None  # an option click knows (or does not), a second query: click says
        at += 1
    if command == "sync":
        options["order_ids"] = options["order_ids"] or None
    elif options["query"] is None:
        return None
    return command, config_file, options


def _config_option(args: list[str], at: int) -> tuple[str | None, int]:
    """The value of `--config F`, `-c F` or `--config=F` at `at`, and where the next argument
    starts; None if there is none, or if click would refuse it (a folder, not readable)."""
    arg = args[at]
    if arg in ("--config", "-c") and at + 1 < len(args):
        value, at = args[at + 1], at + 2
    elif arg.startswith("--config="):
        value, at = arg[9:], at + 1
    else:
        return None, at
    import os
    import stat

    try:
        mode = os.stat(value).st_mode
    except OSError:
        return value, at  # a missing file: the config says so, as with click
    if stat.S_ISDIR(mode) or not os.access(value, os.R_OK):
        return None, at
    return value, at


def _positive(text: str) -> bool:
    """A whole number of at least 1 (anything else: click says what is wrong with it)."""
    return text.isascii() and text.isdigit() and int(text) >= 1


def _echo(text: str, err: bool = False) -> None:
    """click.echo's way: a line, flushed; escape sequences left out when not on a terminal."""
    stream = sys.stderr if err else sys.stdout
    if "\033" in text and not stream.isatty():
        import re

        text = re.sub(r"\033\[[;?0-9]*[a-zA-Z]", "", text)
    stream.write(text + "\n")
    stream.flush()


if __name__ == "__main__":
    main()
