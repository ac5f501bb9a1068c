"""Automatic win-back campaigns: the scheduled job that sends one step of a customer's campaign.

A step (kind `campaign_step`, `ref` the churn event, scheduled when the customer joined,
store/campaigns.py) runs as a person's send would, through services/recovery.py:

    state (campaign still active?) -> choose the email (Thompson sampling over stored counts)
      -> generate the nine variants if the chosen one is not written yet
      -> send_variant(campaign=CampaignSend(job id, step)): claim with the job id, Message-ID
         `<job id@domain>`, suppressions and unsubscribe footer as always, and the step counted
         in the same transaction that records the send.

Once: the scheduler claims the job in the database before the handler runs, so one process runs
it; an interrupted run is recorded `failed`, never repeated (`repeat_interrupted=False`).
"""
from __future__ import annotations

import asyncio
import random
import threading

from services.recovery import CampaignSend, generate_variants, send_variant
from services.scheduler import JobKind
from store import campaign_report, campaigns
from store.campaign_stats import arms_allowed, counts_for_choice, thompson_choice
from store.db import run_db
from store.errors import Conflict, UpstreamFailed
from store.scheduled_jobs import JobEnded, RetryLater


BUSY_TRIES, BUSY_WAIT_SECONDS = 20, 0.5  # how long a step waits for a busy customer before a retry


class CampaignRandom:
    """The draws of every campaign step of this process, seeded by WINDBACK_RANDOM_SEED when set.
    A lock, because `random.Random` is shared by every step running on the loop and in tests."""

    def __init__(self, seed: int | None):
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def choose(self, counts: dict, arms: list) -> tuple[str, str] | None:
        with self._lock:
            return thompson_choice(counts, arms, self._random)


def campaign_random(ctx) -> CampaignRandom:
    return ctx.service("campaign_random", lambda: CampaignRandom(ctx.settings.random_seed))


async def choose_arm(ctx, project_id: str, reason: str | None, step_strategy: str,
                     sent_strategies: list[str]) -> tuple[str, str] | None:
    arms = arms_allowed(step_strategy, sent_strategies)
    if not arms:
        return None
    counts = counts_for_choice(await run_db(campaign_report.arm_counts, project_id), reason)
    return campaign_random(ctx).choose(counts, arms)


async def run_step(ctx, job) -> str | None:
    """Send one step; returns the Message-ID. A step whose customer is busy (an earlier step
    still on its way, a person generating or sending for the event) waits a little on the loop,
    then is retried later by the scheduler: nothing has gone out in either case."""
    step, step_strategy = int(job.data["step"]), job.data["strategy"]
    project_id, event_id = job.project_id, job.ref
    actor = ctx.actors.project(project_id)
    busy = "busy"
    for _ in range(BUSY_TRIES):
        state = await run_db(campaigns.step_state, project_id, event_id, step)
        if state is None:
            raise JobEnded("cancelled", "the customer's campaign has ended")
        if state["earlier_pending"]:
            busy = f"step {step} waits until the customer's earlier steps have gone out"
        else:
            try:
                return await _send_step(ctx, job, state)
            except Conflict as error:
                if error.code == campaigns.NOT_ACTIVE:
                    raise JobEnded("cancelled", error.message) from None
                if error.code == "SUPPRESSED":
                    await actor.campaign_step_skipped(event_id, step)
                    raise JobEnded("skipped", error.message) from None
                busy = error.message  # being generated or sent, or another step took this strategy
        await asyncio.sleep(BUSY_WAIT_SECONDS)
    raise RetryLater(busy)


async def _send_step(ctx, job, state: dict) -> str:
    step, step_strategy = int(job.data["step"]), job.data["strategy"]
    project_id, event_id = job.project_id, job.ref
    if not state["customer_email"]:
        await ctx.actors.project(project_id).campaign_step_skipped(event_id, step)
        raise JobEnded("skipped", "the churn event has no customer_email to send to")
    arm = await choose_arm(ctx, project_id, state["cancel_reason"], step_strategy, state["sent_strategies"])
    if arm is None:
        await ctx.actors.project(project_id).campaign_step_skipped(event_id, step)
        raise JobEnded("skipped", "every strategy was already sent to this customer")
    variant_id = state["unsent"].get(f"{arm[0]}/{arm[1]}")
    try:
        if variant_id is None:
            written, _ = await generate_variants(ctx, project_id, event_id)
            variant_id = next(v["id"] for v in written if (v["strategy"], v["tone"]) == arm)
        sent = await send_variant(ctx, project_id, event_id, variant_id,
                                  CampaignSend(job.id, step, new_strategy=step_strategy == "auto"))
    except UpstreamFailed as error:
        raise RetryLater(str(error)) from None  # nothing went out; the variant is sendable again
    return sent["message_id"]


async def pass_over_step(ctx, job) -> None:
    """A step the scheduler gave up on (retries spent, too late, cut off by a crash) is passed
    over like a skipped one: the campaign goes on with its next step, or is completed."""
    await ctx.actors.project(job.project_id).campaign_step_skipped(job.ref, int(job.data["step"]))


# Retries: a busy event or an unreachable mail server is usually fine seconds later.
CAMPAIGN_STEP = JobKind(campaigns.KIND, run_step, retry_delays=(5.0, 60.0, 600.0), given_up=pass_over_step)
