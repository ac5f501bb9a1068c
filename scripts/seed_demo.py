"""Fill a demo project with twelve months of realistic churn, so the dashboard and the analytics
endpoints have something to show.

    seed_demo.py [--events N] [--seed S] [--slug demo] [--email demo@windback.local] [--reset]
                 [--email-share F] [--payments N]

Creates the user and the project if they are missing and prints how to sign in and the project's
secret key (shown once, when the project is created). The same seed, event count and `--now`
give the same data set. Churn grows a little month by month; a quarter of the widget's
customers accept an offer (saved); most of the others get the nine recovery emails, one or two of
which are sent, and some come back, sooner or later (recovered_by_variant_id names the last
email sent). Open events older than the project's 90 days are `lost`, as the sweep would leave
them. One failed payment per five churns goes through the dunning sequence (scripts/seed_payments.py).

Large data sets: the rows are written in batches of BATCH_EVENTS events, each committed on its own
(so the write-ahead log stays small), with a progress bar on stderr. Only a share of the customers
who would get emails get them (`--email-share`, by default all of them up to 20,000 events, then
as many as for 20,000) and the failed payments stop at 20,000 (`--payments`), so a million churn
events do not bring nine million email rows. The analytics rollups are recounted at the end
(store/rollup_rebuild.py), as the rows are written in bulk rather than by the churn-event transitions.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import secrets
import sys
import time

import _common
import seed_payments
import synthetic_customers

from services.security import hash_password_sync
from store import customer_intake, customer_scores, customers, projects, rollup_rebuild, users
from store.cancel_flow import CancelFlowSubmission
from store.db import database, is_sqlite, transaction, unit_of_work
from store.models import OPEN_STATUSES, STRATEGIES, TONES, ChurnEvent, Project, utcnow
from store.payment_recoveries import PaymentRecovery
from store.projects import project_settings
from store.raw_sql import insert_params, insert_sql
from store.scheduled_jobs import ScheduledJob
from store.tracking import TrackedEvent, rows_for
from store.variants import Variant

LOST_AFTER_DAYS = 90
CURRENCIES = (("USD", 0.80), ("EUR", 0.15), ("GBP", 0.05))
PLANS = (("starter", 1900, 0.40), ("pro", 4900, 0.35), ("business", 9900, 0.20), ("enterprise", 29900, 0.05))
REASONS = (("too_expensive", 25), ("not_using", 17), ("missing_features", 14), ("switched_competitor", 12),
           ("payment_failed", 12), ("technical_issues", 6), ("temporary", 5), ("poor_support", 4), ("other", 3),
           (None, 2))
SOURCES = (("stripe", 50), ("widget", 15), ("api", 15), ("razorpay", 10), ("custom", 10))
# How likely one sent email of each strategy / tone wins the customer back.
STRATEGY_PULL = {"discount_offer": 0.30, "value_reminder": 0.16, "personal_check_in": 0.22}
TONE_PULL = {"friendly": 1.15, "professional": 1.0, "urgent": 0.75}
BATCH_EVENTS = 20_000  # events (and their emails and answers) committed at a time
EMAILED_EVENTS = 20_000  # beyond this many events, only this many events' worth get emails
FIRST_NAMES = ("Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Luca")


def pick(rng: random.Random, weighted) -> object:
    values, weights = zip(*weighted)
    return rng.choices(values, weights)[0]


def event_id(rng: random.Random, prefix: str, sequence: int) -> str:
    """An id of the usual shape whose first 32 bits count up: a million rows then land at the end
    of the primary-key index instead of all over it (about twice as fast to seed)."""
    return f"{prefix}_{sequence:08x}{rng.getrandbits(64):016x}"


class DemoBuilder:
    """Builds the rows of one demo data set, deterministically from `rng` and `now`."""

    def __init__(self, project_id: str, rng: random.Random, now: dt.datetime, email_share: float = 1.0):
        self.project_id, self.rng, self.now = project_id, rng, now
        self.email_share = email_share
        self.variants_before = 0
        self.events: list[dict] = []
        self.variants: list[dict] = []
        self.submissions: list[dict] = []

    def churn_time(self) -> dt.datetime:
        # Twelve months back; churn grows with the customer base, the last month ~1.6x the first
        # (a density rising linearly over the year, drawn by rejection).
        while True:
            days_in = self.rng.random() * 365
            if self.rng.random() * 1.6 <= 1 + 0.6 * days_in / 365:
                return self.now - dt.timedelta(days=365 - days_in)

    def take(self) -> tuple[list[dict], list[dict], list[dict]]:
        """The rows built so far (events, variants, submissions); the builder starts afresh."""
        rows = (self.events, self.variants, self.submissions)
        self.variants_before += len(self.variants)
        self.events, self.variants, self.submissions = [], [], []
        # In churn order: the (project, churned_at) and (project, created_at) indexes are then
        # filled page by page rather than at random.
        rows[0].sort(key=lambda event: event["churned_at"])
        return rows

    def add_event(self, n: int) -> None:
        rng = self.rng
        churned_at = self.churn_time()
        currency = pick(rng, CURRENCIES)
        plan, price, _ = rng.choices(PLANS, [p[2] for p in PLANS])[0]
        mrr = price * rng.choice((1, 1, 1, 2, 3)) if plan != "enterprise" else price + 1000 * rng.randrange(20)
        reason = pick(rng, REASONS)
        source = pick(rng, SOURCES)
        if reason == "payment_failed" and source == "widget":  # nobody clicks "cancel" on a failed card
            source = "stripe"
        name = rng.choice(FIRST_NAMES)
        row = {"id": event_id(rng, "ce", n), "project": self.project_id, "customer_email": f"customer{n}@example.com",
               "customer_name": f"{name} Customer{n}", "customer_id": f"cus_demo{n}", "plan": plan,
               "mrr_cents": mrr, "currency": currency, "cancel_reason": reason, "source": source,
               "status": "new", "churned_at": churned_at, "recovered_at": None, "recovered_mrr_cents": None,
               "recovered_by_variant_id": None, "saved": False, "metadata": "{}", "created_at": churned_at,
               "updated_at": churned_at}
        if source == "widget" and self.widget(row):
            self.events.append(row)
            return
        if reason == "payment_failed" and rng.random() < 0.35:  # the card is fixed: dunning, no email
            self.recover(row, None, rng.expovariate(1 / 4))
        elif rng.random() < 0.7:
            if self.email_share >= 1 or rng.random() < self.email_share:
                self.emails(row)
        elif rng.random() < 0.05:
            self.recover(row, None, rng.expovariate(1 / 20))  # came back on their own
        if row["status"] in OPEN_STATUSES and churned_at < self.now - dt.timedelta(days=LOST_AFTER_DAYS):
            row["status"] = "lost"
        self.events.append(row)

    def widget(self, row: dict) -> bool:
        """The cancel flow: an offer shown, accepted by about a quarter. True when saved."""
        accepted = self.rng.random() < 0.25
        self.submissions.append({"project": self.project_id, "churn_event": row["id"],
                                 "customer_email": row["customer_email"], "reason": row["cancel_reason"] or "other",
                                 "offer_shown": '{"type":"discount","percent_off":20,"months":3}',
                                 "offer_accepted": accepted, "created_at": row["churned_at"]})
        if accepted:
            row.update(status="saved", saved=True)
        return accepted

    def emails(self, row: dict) -> None:
        rng = self.rng
        generated_at = row["churned_at"] + dt.timedelta(minutes=rng.randrange(5, 600))
        if generated_at >= self.now:
            return
        drafts = []
        for strategy in STRATEGIES:
            for tone in TONES:
                sequence = self.variants_before + len(self.variants) + len(drafts)
                drafts.append({"id": event_id(rng, "var", sequence), "project": self.project_id, "churn_event": row["id"],
                               "strategy": strategy, "tone": tone, "subject": f"{strategy} / {tone}",
                               "body_text": "Demo email", "body_html": "<p>Demo email</p>", "status": "draft",
                               "generator": "template", "sent_at": None, "message_id": None, "created_at": generated_at,
                               "updated_at": generated_at})
        self.variants.extend(drafts)
        row["status"] = "variants_ready"
        sent_at = generated_at
        for attempt in range(1 if rng.random() < 0.7 else 2):
            sent_at += dt.timedelta(hours=rng.randrange(1, 24 * 7 * (attempt + 1)))
            if sent_at >= self.now:
                return
            variant = rng.choice(drafts)
            if variant["status"] == "sent":
                return
            variant.update(status="sent", sent_at=sent_at, updated_at=sent_at,
                           message_id=f"<{variant['id']}@demo.windback>")
            row["status"] = "contacted"
            pull = STRATEGY_PULL[variant["strategy"]] * TONE_PULL[variant["tone"]]
            if rng.random() < pull:
                delay = (sent_at - row["churned_at"]).total_seconds() / 86400 + rng.expovariate(1 / 6)
                self.recover(row, variant["id"], delay)
                return

    def recover(self, row: dict, variant_id: str | None, after_days: float) -> None:
        recovered_at = row["churned_at"] + dt.timedelta(days=after_days)
        if recovered_at >= self.now:
            return
        amount = row["mrr_cents"] if self.rng.random() < 0.8 else row["mrr_cents"] * 8 // 10  # some downgrade
        row.update(status="recovered", recovered_at=recovered_at, recovered_mrr_cents=amount,
                   recovered_by_variant_id=variant_id, updated_at=recovered_at)


def ensure_owner(email: str, password: str | None, bcrypt_rounds: int) -> tuple[str, str | None]:
    """The demo user's id, and its password if this run created it."""
    user = users.user_by_email(email)
    if user is not None:
        return user.id, None
    password = password or secrets.token_urlsafe(12)
    user = users.create_user(email, "Demo Owner", hash_password_sync(password, bcrypt_rounds))
    return user.id, password


def insert_rows(model, rows: list[dict]) -> None:
    """Multi-row INSERTs inside the caller's transaction, each under SQLite's 32,766 parameters.
    The statement text is written once per size (store/raw_sql.py): building it through peewee
    cost more than running it (20 minutes of CPU for a million events)."""
    if not rows:
        return
    names = list(rows[0])
    batch = max(1, 30000 // len(names))
    db = database.obj
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        db.execute_sql(insert_sql(model, names, len(chunk)),
                       insert_params(model, names, ([row[name] for name in names] for row in chunk)))


def fading_customers_cancel(project_id: str, people: list[dict], rng: random.Random) -> list[str]:
    """A third of the customers whose use fades have already cancelled: they take over the most
    recent churn events (so the number of churn events stays as asked). Returns those events' ids."""
    faders = [person for person in people if person["will_churn"] and rng.random() < 0.33]
    recent = (ChurnEvent.select(ChurnEvent.id).where(ChurnEvent.project == project_id)
              .order_by(ChurnEvent.churned_at.desc(), ChurnEvent.id).limit(len(faders)).tuples())
    taken = []
    for person, (event_id_,) in zip(faders, list(recent)):
        ChurnEvent.update(customer_id=person["customer_id"], customer_email=person["customer_email"]).where(
            ChurnEvent.id == event_id_).execute()
        taken.append(event_id_)
    return taken


class Progress:
    """A progress bar on stderr (a terminal's line redrawn; one line at the end otherwise)."""

    def __init__(self, total: int, label: str):
        self.total, self.label, self.started = max(1, total), label, time.perf_counter()
        self.tty = sys.stderr.isatty()

    def show(self, done: int) -> None:
        filled = 30 * done // self.total
        elapsed = time.perf_counter() - self.started
        end = "\n" if done >= self.total or not self.tty else ""
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total} "
                         f"{elapsed:.0f} s" + end)
        sys.stderr.flush()


def seed_customers(project, people: list[dict], cancelled: list[str], now: dt.datetime) -> None:
    """Two months of tracked use of `people` (scripts/synthetic_customers.py), their daily counts
    and their cancellations, then every customer scored."""
    for person in people:
        events = [{"event": e["event"], "customer_id": person["customer_id"], "customer_email": person["customer_email"],
                   "properties_json": "{}", "timestamp": dt.datetime.fromisoformat(e["timestamp"].rstrip("Z"))}
                  for e in person["events"]]
        rows = rows_for(project.id, events)
        for start in range(0, len(rows), 500):
            TrackedEvent.insert_many([dict(zip(("project", "event", "customer_id", "customer_email", "properties",
                                                "occurred_at", "received_at"), row)) for row in rows[start:start + 500]]
                                     ).execute()
        customer_intake.add_tracked(rows)
    for event_id_ in cancelled:
        customers.note_churn_event(ChurnEvent.get_by_id(event_id_), created=True)
    customer_scores.refresh_project(project.id, project_settings(project), now)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Seed a demo project with twelve months of churn data")
    parser.add_argument("--events", type=int, default=1500, help="churn events to create (default 1500)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same data)")
    parser.add_argument("--slug", default="demo")
    parser.add_argument("--email", default="demo@windback.local", help="the demo project's owner")
    parser.add_argument("--password", help="the owner's password if the user is created (default: random)")
    parser.add_argument("--now", help="ISO date the twelve months end at (default: now)")
    parser.add_argument("--reset", action="store_true", help="replace the project's events if it has some")
    parser.add_argument("--customers", type=int, default=300,
                        help="customers with two months of tracked activity (default 300)")
    parser.add_argument("--email-share", type=float,
                        help="share (0..1) of the customers who would get emails that get them "
                             f"(default: all up to {EMAILED_EVENTS} events, then as many as for {EMAILED_EVENTS})")
    parser.add_argument("--payments", type=int,
                        help=f"failed payments (default: one per five churns, at most {EMAILED_EVENTS})")
    args = parser.parse_args(argv)
    if args.email_share is not None and not 0 <= args.email_share <= 1:
        parser.error("--email-share must be between 0 and 1")
    if args.payments is not None and args.payments < 0:
        parser.error("--payments must be 0 or more")
    if args.events < 0:
        parser.error("--events must be 0 or more")
    settings = _common.open_store()
    now = dt.datetime.fromisoformat(args.now) if args.now else utcnow()
    with unit_of_work():
        user_id, password = ensure_owner(args.email, args.password, settings.bcrypt_rounds)
        project = projects.project_by_slug(args.slug)
        secret_key = None
        if project is None:
            project, secret_key = projects.create_project(user_id, "Demo SaaS", args.slug)
        existing = ChurnEvent.select().where(ChurnEvent.project == project.id).count()
        if existing and not args.reset:
            print(f"project {args.slug!r} already has {existing} churn events; use --reset to seed it again")
            print_access(settings, args, password, secret_key)
            return 0
        if existing:
            with transaction():
                ChurnEvent.delete().where(ChurnEvent.project == project.id).execute()  # cascades
                for model in (TrackedEvent, customers.Customer, customers.CustomerActivity):
                    model.delete().where(model.project == project.id).execute()
                ScheduledJob.delete().where(ScheduledJob.project == project.id).execute()
                PaymentRecovery.delete().where(PaymentRecovery.project == project.id).execute()
        if is_sqlite():
            # Random ids land all over the indexes: a bigger page cache keeps them in memory.
            database.obj.execute_sql("PRAGMA cache_size = -262144")
        started = time.perf_counter()
        email_share = args.email_share if args.email_share is not None else min(1.0, EMAILED_EVENTS / max(1, args.events))
        builder = DemoBuilder(project.id, random.Random(args.seed), now, email_share)
        counts = {"events": 0, "variants": 0, "sent": 0, "submissions": 0}
        progress = Progress(args.events, "churn events")
        for first in range(0, args.events, BATCH_EVENTS):
            for n in range(first, min(args.events, first + BATCH_EVENTS)):
                builder.add_event(n)
            events, variants, submissions = builder.take()
            with transaction():  # one batch: its events with their emails and answers
                insert_rows(ChurnEvent, events)
                insert_rows(Variant, variants)
                insert_rows(CancelFlowSubmission, submissions)
            counts["events"] += len(events)
            counts["variants"] += len(variants)
            counts["sent"] += sum(1 for v in variants if v["status"] == "sent")
            counts["submissions"] += len(submissions)
            progress.show(counts["events"])
        people = synthetic_customers.generate(customers=args.customers, seed=args.seed, now=now)
        # Failed payments (a separate random stream, so the churn data of a seed stays what it was).
        payments = args.payments if args.payments is not None else min(args.events // 5, EMAILED_EVENTS)
        recoveries, jobs = seed_payments.build(project.id, random.Random(args.seed + 1), now, payments)
        with transaction():
            cancelled = fading_customers_cancel(project.id, people, random.Random(args.seed))
            insert_rows(PaymentRecovery, recoveries)
            insert_rows(ScheduledJob, jobs)
            Project.update(updated_at=utcnow()).where(Project.id == project.id).execute()
            seed_customers(project, people, cancelled, now)
        # Rows written in bulk bypass the churn-event transitions: count the rollups from them.
        rollup_rebuild.rebuild_project(project.id)
    if not is_sqlite():
        # Fresh planner statistics and visibility map now, rather than whenever autovacuum gets to
        # the new rows (until then PostgreSQL plans for an empty table).
        with unit_of_work():
            for table in ("churn_events", "variants", "cancel_flow_submissions", "payment_recoveries",
                          "scheduled_jobs"):
                database.obj.execute_sql(f"VACUUM ANALYZE {table}")
    print(f"seeded {counts['events']} churn events, {counts['variants']} variants ({counts['sent']} sent), "
          f"{counts['submissions']} cancel-flow answers and {len(recoveries)} failed payments into {args.slug!r} in "
          f"{time.perf_counter() - started:.1f} s")
    print_access(settings, args, password, secret_key)
    return 0


def print_access(settings, args, password: str | None, secret_key: str | None) -> None:
    base = f"http://{settings.host}:{settings.port}"
    print(f"  sign in:     {args.email}" + (f" / {password}" if password else " (existing user, password unchanged)"))
    if secret_key:
        print(f"  secret key:  {secret_key}   (shown once; rotate with scripts/rotate_keys.py {args.slug})")
    print(f"  try:         curl -H 'X-API-Key: <secret key>' {base}/api/v1/projects/{args.slug}/stats")


if __name__ == "__main__":
    sys.exit(main())
