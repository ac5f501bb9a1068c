"""A project with an endpoint whose receiver never answers (bench/outbound_setup.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from outbound_setup import main  # noqa: E402

main(sys.argv[1].rstrip("/"), "silent")
