"""`recording-station user ...`: accounts on the command line, for headless stations.

    recording-station user add NAME --role ROLE [--display-name X] [--password-stdin]
    recording-station user passwd NAME [--password-stdin]
    recording-station user disable NAME
    recording-station user enable NAME
    recording-station user list
    (each with [--data-dir DIR], as the station itself)

It opens the station's catalog (the same settings, config file and data folder as a start)
and nothing else: no recorder, no API. A password is read from the terminal twice (getpass,
not echoed) or, with `--password-stdin`, as the first line of standard input — never from an
argument, which `ps` would show. Exit codes: 0 done, 1 refused (one line saying why), 2 usage.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from app.accounts.models import ROLES
from app.accounts.service import AccountError, AccountService, UserOut


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 on a usage error: keep it so
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: {message}\n")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="recording-station user", description="Manage the station's accounts.")
    parser.add_argument("--data-dir", type=Path, help="folder for the catalog and the recordings")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add = commands.add_parser("add", help="add an account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--display-name")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    passwd = commands.add_parser("passwd", help="set an account's password")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    for name in ("disable", "enable"):
        commands.add_parser(name, help=f"{name} an account").add_argument("name")
    commands.add_parser("list", help="list the accounts (never their passwords)")
    # --data-dir after the subcommand too (`user list --data-dir X`), as users type it
    for sub in commands.choices.values():
        sub.add_argument("--data-dir", type=Path, dest="sub_data_dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.data_dir = args.sub_data_dir or args.data_dir
    return args


def read_password(from_stdin: bool) -> str:
    """The new password: stdin's first line, or typed twice at a prompt; ValueError if the
    two differ."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _who() -> str:
    try:
        return f"{os.getlogin()} (command line)"
    except OSError:
        return "command line"


def _row(user: UserOut) -> str:
    scope = "all" if user.scope is None else ",".join(map(str, user.scope))
    expiry = user.expires_utc.strftime("%Y-%m-%dT%H:%M:%SZ") if user.expires_utc else "-"
    return "\t".join([user.name, user.display_name or "-", user.role, scope,
                      "enabled" if user.enabled else "disabled", expiry])


def run(argv: list[str]) -> int:
    args = parse(argv)
    from app.catalog import Catalog
    from app.credentials import CredentialKeyError
    from app.services.audit import AuditService
    from app.settings import load_settings

    try:
        settings = load_settings(data_dir=args.data_dir)
    except ValueError as exc:
        print(f"recording-station: invalid settings: {exc}", file=sys.stderr)
        return 2
    try:
        catalog = Catalog(settings.database_url, data_dir=settings.data_dir).open()
    except CredentialKeyError as exc:
        print(f"recording-station: {exc}", file=sys.stderr)
        return 1
    audit = AuditService(catalog)
    audit.start()
    try:
        return _command(AccountService(catalog, audit), args)
    finally:
        audit.stop()
        catalog.close()


def _command(accounts: AccountService, args: argparse.Namespace) -> int:
    who = _who()
    try:
        if args.command == "list":
            print("\t".join(["name", "display name", "role", "scope", "state", "expires"]))
            for user in accounts.list():
                print(_row(user))
            return 0
        if args.command in ("add", "passwd"):
            if args.command == "passwd" and accounts.get(args.name) is None:
                raise AccountError(f"no user named {args.name.lower()!r}")
            password = read_password(args.password_stdin)
            if args.command == "add":
                user = accounts.create(args.name, password, role=args.role,
                                       display_name=args.display_name, who=who)
                print(f"user {user.name} added ({user.role})")
            else:
                user = accounts.set_password(args.name, password, who=who)
                print(f"password of {user.name} changed")
            return 0
        user = (accounts.disable if args.command == "disable" else accounts.enable)(
            args.name, who=who)
        print(f"user {user.name} {args.command}d")
        return 0
    except (AccountError, ValueError, EOFError, KeyboardInterrupt) as exc:
        print(f"recording-station user {args.command}: {exc or 'cancelled'}", file=sys.stderr)
        return 1
