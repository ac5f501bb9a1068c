"""Bounded live actors (WINDBACK_MAX_ACTORS): with far more active projects than the cap, every
command still applies exactly once and in order per project, idle actors are stopped to make room
and started again on use, no command of a project runs on two actors at once, and `/health`
accounts for every start and stop."""
import asyncio
import random
import threading
import time

import pykka
import pytest

from actors.bridge import BridgedActorMixin
from actors.project import ProjectActor
from actors.registry import ProjectActors
from actors.runtime import ActorPool, PooledActor
from store.errors import TimedOut
from tests.helpers import refuse_customer_email

PROJECTS = 50


def accounted(stats: dict) -> bool:
    """Every actor ever started is live, or was evicted, stopped idle or crashed."""
    return stats["started"] == stats["live"] + stats["evicted"] + stats["stopped_idle"] + stats["crashed"]


async def health_stats(api) -> dict:
    health = await api.get("/health")
    assert health.status == 200
    assert {"status", "database", "actors", "version"} <= set(health.data)  # the shape it always had
    assert health.data["actors"] == health.data["actor_stats"]["live"]
    return health.data["actor_stats"]


async def _one_project(api, token, n):
    """One project's story, each step awaited: so its commands have a known order, while the 49
    other projects' stories compete for the two live actors."""
    slug = f"cap-{n:02d}"
    project = await api.new_project(token, name=f"Cap {n}", slug=slug)
    key = project["secret_key"]
    path = f"/projects/{slug}/churn-events"
    statuses = []
    created = []
    for i in range(3):
        r = await api.post(path, {"customer_email": f"c{i}@example.com", "mrr_cents": 100 * (i + 1)}, key=key)
        statuses.append(r.status)
        created.append(r.data["id"])
    event = f"{path}/{created[0]}"
    # Two commands in flight for the same event, twice over: recovered twice (exactly one wins)
    # and a cancel-reason change beside them (both changes land).
    both = await asyncio.gather(
        api.post(f"{event}/recovered", {"recovered_mrr_cents": 77}, key=key),
        api.post(f"{event}/recovered", {"recovered_mrr_cents": 88}, key=key),
        api.patch(f"{event}/cancel-reason", {"cancel_reason": "temporary", "cancel_reason_detail": f"p{n}"}, key=key))
    statuses += [r.status for r in both]
    listing = await api.get(f"{path}?sort=created_at&order=asc&per_page=10", key=key)
    return project, statuses, both, listing.data, created


@pytest.mark.env({"WINDBACK_MAX_ACTORS": "2"})
@pytest.mark.gen_test(timeout=120)
async def test_fifty_projects_through_two_live_actors(api, ctx):
    token = await api.signup()
    results = await asyncio.gather(*(_one_project(api, token, n) for n in range(PROJECTS)))
    for project, statuses, (first, second, reason), events, created in results:
        assert 500 not in statuses, statuses
        assert statuses[:3] == [201, 201, 201]
        assert sorted([first.status, second.status]) == [200, 409], (first, second)  # applied once
        assert reason.status == 200
        # In the order sent: each create awaited before the next.
        assert [e["id"] for e in events] == created
        assert [e["customer_email"] for e in events] == ["c0@example.com", "c1@example.com", "c2@example.com"]
        recovered = events[0]
        winner = first if first.status == 200 else second
        assert recovered["status"] == "recovered"
        assert recovered["recovered_mrr_cents"] == winner.data["recovered_mrr_cents"]
        assert recovered["cancel_reason"] == "temporary"
        assert recovered["cancel_reason_detail"] == f"p{int(project['slug'][-2:])}"
    stats = await health_stats(api)
    assert stats["max"] == 2
    assert stats["live"] <= 2  # back under the cap once idle
    assert stats["started"] >= PROJECTS and stats["evicted"] >= PROJECTS - 2
    assert stats["crashed"] == 0
    assert accounted(stats), stats
    # An evicted actor really stopped, not only left the table: Pykka's registry of running
    # actors holds no more project actors than are live.
    for _ in range(100):
        running = len(pykka.ActorRegistry.get_by_class(ProjectActor))
        if running <= stats["live"]:
            break
        await asyncio.sleep(0.02)
    assert running <= stats["live"], running
    # A project whose actor was evicted gets a fresh one on its next command.
    first_project = results[0][0]
    again = await api.post(f"/projects/{first_project['slug']}/churn-events", {"customer_email": "again@example.com"},
                           key=first_project["secret_key"])
    assert again.status == 201
    after = await health_stats(api)
    assert accounted(after) and after["started"] >= stats["started"]


@pytest.mark.env({"WINDBACK_MAX_ACTORS": "2", "WINDBACK_ACTOR_IDLE_SECONDS": "1"})
@pytest.mark.gen_test(timeout=60)
async def test_crashes_and_idle_stops_show_in_health(api, ctx, migrated):
    _, project = await api.owner()
    key = project["secret_key"]
    path = "/projects/acme/churn-events"
    with refuse_customer_email(migrated, "boom@example.com"):
        crashed = await api.post(path, {"customer_email": "boom@example.com"}, key=key)
    assert crashed.status == 500
    assert (await api.post(path, {"customer_email": "fine@example.com"}, key=key)).status == 201
    stats = await health_stats(api)
    assert stats["crashed"] == 1 and stats["started"] == 2 and stats["live"] == 1
    await asyncio.sleep(1.2)
    assert ctx.actors.stop_idle() == 1
    stats = await health_stats(api)
    assert stats["stopped_idle"] == 1 and stats["live"] == 0 and accounted(stats)


# --- the registry itself, with a recording actor on the real pool -----------------------------

class Recorder(BridgedActorMixin, PooledActor):
    """Notes which actor ran each command, and fails the test if two ran one project at once."""

    running: set = set()
    log: list = []
    lock = threading.Lock()
    gate = threading.Event()

    def __init__(self, project_id: str, pool: ActorPool):
        super().__init__(pool)
        self.project_id = project_id

    def record(self, seq: int) -> int:
        with self.lock:
            assert self.project_id not in self.running, f"{self.project_id} on two actors at once"
            self.running.add(self.project_id)
        time.sleep(0.0005)  # long enough for another thread to run the same project, were it allowed
        with self.lock:
            self.running.discard(self.project_id)
            self.log.append((self.project_id, seq, self.actor_urn))
        return seq

    def hold(self) -> str:
        self.gate.wait(10)
        with self.lock:
            self.log.append((self.project_id, "held", self.actor_urn))
        return self.project_id


def start_recorder(project_id: str, pool: ActorPool):
    return Recorder.start(project_id, pool)


@pytest.mark.gen_test(timeout=60)
async def test_eviction_never_loses_reorders_or_doubles_a_command(ctx):
    Recorder.log.clear()
    actors = ProjectActors(start_recorder, timeout=30, max_actors=2, threads=4)
    picks = random.Random(7)
    projects = [f"p{n}" for n in range(PROJECTS)]
    sent = {project_id: 0 for project_id in projects}
    try:
        for round_ in range(4):
            # A random interleaving: a project's next command often comes after its actor was
            # pushed out by others, while its earlier commands may still be queued.
            calls, expected = [], []
            for _ in range(300):
                project_id = picks.choice(projects)
                calls.append(actors.call(project_id, "record", sent[project_id]))
                expected.append(sent[project_id])
                sent[project_id] += 1
            assert await asyncio.gather(*calls) == expected
            await asyncio.sleep(0.01 * round_)  # let some actors go idle between rounds
        for project_id in projects:
            seqs = [seq for p, seq, _ in Recorder.log if p == project_id]
            assert seqs == list(range(sent[project_id])), (project_id, seqs)  # exactly once, in order
        stats = actors.stats()
        assert stats["evicted"] > 0 and stats["live"] <= 2 and accounted(stats), stats
        assert len({urn for _, _, urn in Recorder.log}) == stats["started"]
    finally:
        actors.stop_all()


@pytest.mark.gen_test(timeout=60)
async def test_when_every_actor_is_busy_the_cap_is_exceeded_until_they_go_idle(ctx):
    Recorder.gate.clear()
    actors = ProjectActors(start_recorder, timeout=30, max_actors=2, threads=4)
    try:
        held = [asyncio.ensure_future(actors.call(f"busy{n}", "hold")) for n in range(4)]
        for _ in range(200):
            if actors.stats()["busy"] == 4:
                break
            await asyncio.sleep(0.01)
        stats = actors.stats()
        assert stats["live"] == 4 and stats["busy"] == 4 and stats["evicted"] == 0  # nobody waits
        Recorder.gate.set()
        assert sorted(await asyncio.gather(*held)) == [f"busy{n}" for n in range(4)]
        stats = actors.stats()
        assert stats["live"] == 2 and stats["evicted"] == 2 and accounted(stats), stats
    finally:
        Recorder.gate.set()
        actors.stop_all()


@pytest.mark.gen_test(timeout=60)
async def test_a_call_that_timed_out_keeps_its_actor_busy_until_it_finishes(ctx):
    Recorder.log.clear()
    Recorder.gate.clear()
    actors = ProjectActors(start_recorder, timeout=0.3, max_actors=1, threads=4)
    try:
        with pytest.raises(TimedOut):
            await actors.call("stuck", "hold")  # 504 for its caller; the command still runs
        assert await actors.call("other", "record", 0) == 0  # over the cap: "stuck" is not idle
        stats = actors.stats()
        assert stats["live"] == 1 and stats["busy"] == 1 and stats["evicted"] == 1  # "other" went, not "stuck"
        later = asyncio.ensure_future(actors.call("stuck", "record", 1))
        await asyncio.sleep(0.05)
        assert not later.done()  # queued behind the held command, on the same actor
        Recorder.gate.set()
        assert await later == 1
        stuck = [(what, urn) for project_id, what, urn in Recorder.log if project_id == "stuck"]
        assert [what for what, _ in stuck] == ["held", 1] and stuck[0][1] == stuck[1][1]
    finally:
        Recorder.gate.set()
        actors.stop_all()
