"""Create a user from the command line.

    create_user.py EMAIL [--name NAME]                 (asks for the password)
    echo 'a password' | create_user.py EMAIL --password-stdin
"""
from __future__ import annotations

import argparse
import getpass
import sys

import _common

from store.input_rules import email_address
from services.security import hash_password_sync
from store import users
from store.db import unit_of_work


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("email")
    parser.add_argument("--name")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    args = parser.parse_args(argv)
    settings = _common.open_store()
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
    if len(password) < 8 or len(password.encode()) > 72:
        print("create_user: the password must be 8 characters to 72 bytes", file=sys.stderr)
        return 2
    address = email_address(args.email)
    if address is None:
        print(f"create_user: {args.email!r} is not one valid email address", file=sys.stderr)
        return 2
    with unit_of_work():
        try:
            user = users.create_user(address, args.name, hash_password_sync(password, settings.bcrypt_rounds))
        except users.EmailTaken:
            print(f"create_user: a user with email {args.email} already exists", file=sys.stderr)
            return 1
    print(f"created user {user.id} <{user.email}>")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
