"""Recount the analytics rollups from the stored events, emails and cancel-flow answers
(docs/analytics.md, "Rollups").

    rebuild_rollups.py [--project SLUG] [--verify]

Without `--verify`, each project's rollups are replaced by a recount (one transaction per
project; safe while servers run: a change committed meanwhile waits for it, or is in it), and any
row that differed is reported. With `--verify`, nothing is written: the differences are only
reported. Exit status 1 when any difference was found, 0 when every rollup agreed.
"""
from __future__ import annotations

import argparse
import time

import _common

from store import projects, rollup_rebuild
from store.db import unit_of_work
from store.models import Project


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Rebuild (or --verify) the analytics rollups")
    parser.add_argument("--project", metavar="SLUG", help="only this project")
    parser.add_argument("--verify", action="store_true", help="report differences from a recount; change nothing")
    args = parser.parse_args(argv)
    _common.open_store()
    differing = 0
    with unit_of_work():
        if args.project:
            project = projects.project_by_slug(args.project)
            if project is None:
                print(f"no project with slug {args.project!r}")
                return 2
            targets = [(project.id, project.slug)]
        else:
            targets = list(Project.select(Project.id, Project.slug).order_by(Project.slug).tuples())
        for project_id, slug in targets:
            started = time.perf_counter()
            if args.verify:
                found = rollup_rebuild.differences(project_id)
            else:
                found = rollup_rebuild.rebuild_project(project_id)
            took = time.perf_counter() - started
            for line in found:
                print(f"{slug}: {line}")
            differing += bool(found)
            verdict = f"{len(found)} rows differed" if found else "no difference"
            print(f"{slug}: {'verified' if args.verify else 'rebuilt'} in {took:.2f} s, {verdict}")
    if args.verify:
        print(f"{differing} of {len(targets)} projects differ from a recount")
    else:
        print(f"rebuilt {len(targets)} projects; {differing} had differed from a recount")
    return 1 if differing else 0


if __name__ == "__main__":
    raise SystemExit(main())
