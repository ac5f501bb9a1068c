"""Rotate a project's secret key (or every project's) and print the new keys once.

    rotate_keys.py SLUG [--grace SECONDS] [--public]
    rotate_keys.py --all [--grace SECONDS]
"""
from __future__ import annotations

import argparse

import _common

from store import projects
from store.db import unit_of_work
from store.models import Project


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Rotate project API keys")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("slug", nargs="?")
    target.add_argument("--all", action="store_true")
    parser.add_argument("--grace", type=int, default=0, help="seconds the old keys keep working (max 86400)")
    parser.add_argument("--public", action="store_true", help="rotate the public key too")
    args = parser.parse_args(argv)
    if not 0 <= args.grace <= 86400:
        parser.error("--grace must be between 0 and 86400")
    _common.open_store()
    with unit_of_work():
        targets = list(Project.select()) if args.all else [projects.project_by_slug(args.slug)]
        if targets == [None]:
            print(f"no project with slug {args.slug!r}")
            return 1
        for project in targets:
            keys = projects.rotate_keys(project.id, args.grace, args.public)
            print(f"{project.slug}: secret_key={keys['secret_key']} public_key={keys['public_key']} "
                  f"previous keys expire at {keys['previous_keys_expire_at']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
