"""`edge user add|passwd|remove|list`: the console's logins, kept in the users file.

Passwords are read from the terminal (or one line of stdin with --password-stdin, for
scripts) and stored only as argon2id hashes in <data_dir>/users.yaml (mode 0600). The
daemon re-reads the file when it changes: no restart needed.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from edge.cli._common import CliError, add_json, err, load_or_raise, print_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("user", help="console logins: add, change password, remove, list")
    acts = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    a = acts.add_parser("add", help="add a login (asks for its password)")
    a.add_argument("name")
    a.add_argument("--role", required=True, choices=["guard", "installer", "maintainer"])
    a.add_argument("--display-name", default="", help="shown in the page header")
    w = acts.add_parser("passwd", help="set a login's password")
    w.add_argument("name")
    r = acts.add_parser("remove", help="remove a login (its sessions end)")
    r.add_argument("name")
    ls = acts.add_parser("list", help="list logins and roles (never hashes)")
    for x in (a, w, r, ls):
        x.add_argument("--config", "-c", required=True, help="the daemon's config file")
        add_json(x)
    for x in (a, w):
        x.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    a.set_defaults(handler=_add)
    w.set_defaults(handler=_passwd)
    r.set_defaults(handler=_remove)
    ls.set_defaults(handler=_list)


def _password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        err("the two passwords differ")
        return None
    return first


def _open(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from edge.web.auth.users import UsersFileError, read_users_file, users_path

    cfg = load_or_raise(args.config)
    path = users_path(cfg.web, cfg.storage.data_dir)
    try:
        return cfg, path, read_users_file(path)
    except UsersFileError as exc:
        raise CliError(str(exc)) from None


def _save(args: argparse.Namespace, name: str, role: str, display: str, *, new: bool) -> int:
    from edge.config.web import USER_NAME, WebUser
    from edge.web.auth.passwords import hash_password
    from edge.web.auth.users import write_users_file

    opened = _open(args)
    if opened is None:
        return 2
    cfg, path, users = opened
    if not USER_NAME.fullmatch(name):
        err(f"user name {name!r}: 1-32 letters, digits, _ . - or Chinese")
        return 2
    if name in cfg.web.users:
        err(f"{name} is defined in the config file (web.users): change it there")
        return 1
    if new and name in users:
        err(f"{name} exists: use `edge user passwd {name}`")
        return 1
    if not new:
        if name not in users:
            err(f"no user {name}")
            return 1
        role, display = str(users[name].role), users[name].display_name
    password = _password(args)
    if password is None:
        return 1
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        err(str(exc))
        return 1
    users[name] = WebUser.model_validate(
        {"role": role, "password_hash": hashed, "display_name": display}
    )
    write_users_file(path, users)
    if args.json:  # {"ok": true, "user": name, "role": role, "file": path}
        print_json({"ok": True, "user": name, "role": role, "file": str(path)})
    else:
        print(f"{'added' if new else 'password changed for'} {name} ({role}) in {path}")
    return 0


def _add(args: argparse.Namespace) -> int:
    return _save(args, args.name, args.role, args.display_name, new=True)


def _passwd(args: argparse.Namespace) -> int:
    return _save(args, args.name, "", "", new=False)


def _remove(args: argparse.Namespace) -> int:
    from edge.web.auth.users import write_users_file

    opened = _open(args)
    if opened is None:
        return 2
    _cfg, path, users = opened
    if users.pop(args.name, None) is None:
        err(f"no user {args.name} in {path}")
        return 1
    write_users_file(path, users)
    if args.json:  # {"ok": true, "removed": name}
        print_json({"ok": True, "removed": args.name})
    else:
        print(f"removed {args.name}")
    return 0


def _list(args: argparse.Namespace) -> int:
    opened = _open(args)
    if opened is None:
        return 2
    cfg, _path, users = opened
    everyone = sorted({**users, **cfg.web.users}.items())
    if args.json:  # [{"user", "role", "display_name"}], never hashes
        print_json(
            [{"user": n, "role": str(u.role), "display_name": u.display_name} for n, u in everyone]
        )
        return 0
    for name, u in everyone:
        print(f"{name}\t{u.role}\t{u.display_name}")
    return 0
