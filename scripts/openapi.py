"""Write the OpenAPI document generated from the code to docs/openapi.json (or check it).

    python scripts/openapi.py            # rewrite docs/openapi.json
    python scripts/openapi.py --check    # exit 1 when docs/openapi.json is out of date
"""
from __future__ import annotations

import argparse
import os
import sys

import _common  # noqa: F401  (sets sys.path)

from handlers.openapi import build_document, render  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCUMENT_PATH = os.path.join(ROOT, "docs", "openapi.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when it differs")
    args = parser.parse_args(argv)
    text = render(build_document())
    try:
        with open(DOCUMENT_PATH, encoding="utf-8") as handle:
            current = handle.read()
    except FileNotFoundError:
        current = None
    if args.check:
        if current != text:
            print(f"{DOCUMENT_PATH} is out of date: run python scripts/openapi.py", file=sys.stderr)
            return 1
        print(f"{DOCUMENT_PATH} is up to date")
        return 0
    with open(DOCUMENT_PATH, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(f"wrote {DOCUMENT_PATH} ({len(build_document()['paths'])} paths)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
