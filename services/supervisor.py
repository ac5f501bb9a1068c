"""`server.py --processes N`: a parent that forks N serving children and looks after them.

Tornado's `fork_processes` restarts crashed children but leaves them running when the parent is
told to stop (SIGTERM kills the parent alone). Here the parent forwards SIGTERM/SIGINT to every
child, waits for each to finish its graceful stop, and exits 0 when all of them did. A child that
dies on its own (a crash, `kill -9`) is replaced, with a cap on restarts so a child that cannot
start does not loop forever.

Each child builds its own context, actors and database pool after the fork (nothing with threads
or sockets may cross a fork), and binds the port with SO_REUSEPORT.
"""
from __future__ import annotations

import logging
import os
import signal
import time

log = logging.getLogger("windback.supervisor")
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_stop_before_serving = False


def _remember_stop(signum, _frame) -> None:
    global _stop_before_serving
    _stop_before_serving = True


def stop_requested() -> bool:
    """True when this child was told to stop before its event loop took over the signals (a
    SIGTERM during start-up must end in the same graceful stop, not in death by signal)."""
    return _stop_before_serving


def fork_children(count: int, max_restarts: int = 100) -> int | None:
    """Fork `count` children. In a child, return its index (0..count-1). In the parent, supervise
    until every child has exited after a stop signal, then return None."""
    children: dict[int, int] = {}  # pid -> index
    stopping = False

    def start(index: int) -> bool:
        pid = os.fork()
        if pid == 0:
            for signum in FORWARDED_SIGNALS:
                signal.signal(signum, _remember_stop)
            return True
        children[pid] = index
        return False

    def forward(signum, _frame):
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    # Installed before forking so that a signal arriving between two forks is not lost; children
    # replace it at once with `_remember_stop` until `serve` installs the event loop's.
    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, forward)
    for index in range(count):
        if start(index):
            return index
    restarts = 0
    failed = False
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        index = children.pop(pid, None)
        if index is None:
            continue
        clean = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        if stopping:
            failed = failed or not clean
            continue
        reason = (f"killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                  else f"exited with status {os.WEXITSTATUS(status)}")
        if restarts >= max_restarts:
            log.error("child %d (pid %d) %s; restart limit reached", index, pid, reason)
            failed = True
            continue
        restarts += 1
        log.warning("child %d (pid %d) %s; starting a new one", index, pid, reason)
        time.sleep(min(1.0, 0.1 * restarts))  # do not spin on a child that dies at start
        if start(index):
            return index
    if failed:
        raise SystemExit(1)
    return None
