"""Apply stored webhook events that have not taken effect yet (docs/webhooks.md).

    replay_webhooks.py [--project SLUG] [--failed]

Without `--failed`, every event still `received` (stored, never applied: e.g. the server stopped
before applying it) or `failed`; with it, only the failed ones. Events already `processed` or
`ignored` are final and never applied twice, so running this again changes nothing. It is safe
while servers run: each event is claimed in the database before it is applied.
"""
from __future__ import annotations

import argparse
import collections

import _common

from store import projects
from store.db import unit_of_work
from store.webhook_effects import apply_stored_event
from store.webhooks import replay_candidates


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Re-process stored webhook events")
    parser.add_argument("--project", metavar="SLUG", help="only this project's events")
    parser.add_argument("--failed", action="store_true", help="only events whose processing failed")
    args = parser.parse_args(argv)
    _common.open_store()
    with unit_of_work():
        project_id = None
        if args.project:
            project = projects.project_by_slug(args.project)
            if project is None:
                print(f"no project with slug {args.project!r}")
                return 1
            project_id = project.id
        outcomes: collections.Counter = collections.Counter()
        for _, webhook_event_id in replay_candidates(project_id, failed_only=args.failed):
            outcomes[apply_stored_event(webhook_event_id)] += 1
    total = sum(outcomes.values())
    summary = ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items())) or "nothing to do"
    print(f"replayed {total} webhook event(s): {summary}")
    return 1 if outcomes.get("failed") else 0


if __name__ == "__main__":
    raise SystemExit(main())
