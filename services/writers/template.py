"""The built-in writer: nine hand-written emails, filled with the customer's first name, plan,
cancel reason, the project's brand and a concrete offer. No network, deterministic, and fast
(well under a millisecond for all nine), so it is the default and the OpenAI writer's fallback.

Values are substituted once with `str.format`; a substituted value is never formatted again, so
a name like `{brand}` stays literal text, and the HTML is built by escaping the finished text.
"""
from __future__ import annotations

from services.writers import PAIRS, CopyBrief, Draft, Written, text_to_html
from services.writers.dunning import DunningBrief, DunningEmail, write_template
from store.offers import ACCEPT_BY_REPLY

# What the customer told us, said back to them ("... because {reason_said}").
REASON_SAID = {
    "too_expensive": "the price didn't feel right",
    "missing_features": "{brand} was missing something you needed",
    "switched_competitor": "you moved to another tool",
    "not_using": "you weren't getting enough use out of {brand}",
    "technical_issues": "you ran into technical problems",
    "poor_support": "we didn't support you the way we should have",
    "temporary": "you only needed {brand} on and off",
    "payment_failed": "your last payment didn't go through",
}
# One sentence that answers the reason.
REASON_ANSWER = {
    "too_expensive": "We'd rather find a price that works than lose you over it.",
    "missing_features": "We ship improvements every week, and your feedback decides what comes next.",
    "switched_competitor": "Plenty of teams compare tools and come back; your data and setup are still here.",
    "not_using": "A short walkthrough usually turns an unused account into one that saves hours.",
    "technical_issues": "Our engineers have been working through reported problems, and we'd like to make sure "
                        "yours is fixed.",
    "poor_support": "You deserved better, and a senior person on our team will look after you personally.",
    "temporary": "You don't have to cancel to take a break: you can pause and pick up where you left off.",
    "payment_failed": "Nothing is lost: updating your card takes a minute and everything picks up where it was.",
}
GENERIC_SAID = "something wasn't working for you"
GENERIC_ANSWER = "Whatever the reason, we'd like the chance to make it right."

# (strategy, tone) -> (subject, body). Fields: see `fields_for`; `{accept}` is how to take the
# offer (store/offers.py `ACCEPT_BY_REPLY`, per tone). Bodies are paragraphs separated by blank lines.
COPY = {
    ("discount_offer", "friendly"): (
        "{first_greeting_short}here's {offer} to come back to {brand}",
        "Hi {first},\n\n"
        "We noticed you cancelled {plan_phrase}, and we get it: {said}. {answer}\n\n"
        "So here's something to make coming back easier: {offer}. {accept}\n\n"
        "We'd love to have you back.\n\n"
        "Cheers,\nThe {brand} team",
    ),
    ("discount_offer", "professional"): (
        "An offer for your return to {brand}: {offer}",
        "Hello {first},\n\n"
        "Thank you for the time you spent with {brand}. We understand you cancelled {plan_phrase} "
        "because {said}.\n\n"
        "{answer} We would like to offer you {offer} if you decide to resume your subscription. "
        "{accept}\n\n"
        "Kind regards,\nThe {brand} team",
    ),
    ("discount_offer", "urgent"): (
        "Last chance{comma_first}: {offer} is waiting for you",
        "{first},\n\n"
        "We've set aside {offer} for you to come back to {brand}, but we can only hold it for a "
        "short while.\n\n"
        "{answer} {accept}\n\n"
        "The {brand} team",
    ),
    ("value_reminder", "friendly"): (
        "{first_greeting_short}your {brand} setup is still here",
        "Hi {first},\n\n"
        "Since you left, we've been thinking about what made {brand} worth it for you. Your "
        "settings, history and everything you built on {plan_phrase} are still exactly where you "
        "left them.\n\n"
        "{usage}We heard {said}. {answer}\n\n"
        "If you'd like to pick things up again, just reply and we'll have you running in minutes.\n\n"
        "Warmly,\nThe {brand} team",
    ),
    ("value_reminder", "professional"): (
        "What you keep with {brand}",
        "Hello {first},\n\n"
        "When you cancelled {plan_phrase}, you also gave up the time {brand} saved you each week: "
        "the automation, the reporting and the history your team relied on.\n\n"
        "{usage}We understand {said}. {answer}\n\n"
        "Your account data is retained for now, so reactivating restores everything as it was. "
        "If it would help, reply to arrange a short call about your needs.\n\n"
        "Best regards,\nThe {brand} team",
    ),
    ("value_reminder", "urgent"): (
        "{first_greeting_short}don't lose what you built on {brand}",
        "{first},\n\n"
        "Everything you set up on {plan_phrase} (your settings, history and reports) is still "
        "there today, but inactive accounts are not kept forever.\n\n"
        "{usage}{answer} Reactivate now to keep all of it, or reply and we'll help.\n\n"
        "The {brand} team",
    ),
    ("personal_check_in", "friendly"): (
        "{first_greeting_short}can I ask you something?",
        "Hi {first},\n\n"
        "I saw you cancelled {plan_phrase}, and I wanted to reach out personally rather than send "
        "another automated note.\n\n"
        "It sounds like {said}. Was there a moment when {brand} stopped working for you? Even a "
        "one-line reply helps us get better, and if there's anything I can fix, I will.\n\n"
        "Thanks for giving us a try,\nThe {brand} team",
    ),
    ("personal_check_in", "professional"): (
        "A question about your experience with {brand}",
        "Hello {first},\n\n"
        "I'm following up on your cancellation of {plan_phrase}. We take every departure "
        "seriously, and I would value ten minutes of your perspective.\n\n"
        "We noted that {said}. {answer} Would you be open to a short call this week? Reply with a "
        "time that suits you, or simply share your thoughts by email.\n\n"
        "Sincerely,\nThe {brand} team",
    ),
    ("personal_check_in", "urgent"): (
        "{first_greeting_short}one quick question before you go",
        "{first},\n\n"
        "Before your {brand} account is wound down, I'd like to ask one thing: what would have made "
        "you stay?\n\n"
        "It sounds like {said}. If that's something we can still solve, reply today and I'll "
        "personally make sure it's handled.\n\n"
        "The {brand} team",
    ),
}


def _plan_phrase(plan: str | None) -> str:
    if not plan:
        return "your subscription"
    if plan.lower().endswith(("plan", "subscription")):
        return f"your {plan}"
    return f"your {plan} plan"


def fields_for(brief: CopyBrief) -> dict[str, str]:
    brand = brief.brand
    said = REASON_SAID.get(brief.reason or "", GENERIC_SAID).replace("{brand}", brand)
    return {
        "first": brief.first_name or "Hi there",
        "comma_first": f", {brief.first_name}" if brief.first_name else "",
        "first_greeting_short": f"{brief.first_name}, " if brief.first_name else "",
        "brand": brand,
        "plan_phrase": _plan_phrase(brief.plan),
        "said": said,
        "answer": REASON_ANSWER.get(brief.reason or "", GENERIC_ANSWER),
        "offer": brief.offer,
        "usage": _usage_paragraph(brief.usage),
    }


def _usage_paragraph(usage) -> str:
    """'In the last three months you used report viewed 42 times and login 9 times.' (its own
    paragraph), or nothing when no activity is known."""
    if not usage:
        return ""
    parts = [f"{name.replace('_', ' ')} {count} time{'' if count == 1 else 's'}" for name, count in usage]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"In the last three months you used {listed}.\n\n"


def _fill(template: str, fields: dict[str, str]) -> str:
    text = template.format(**fields)
    # "Hi Hi there," when there is no name: the greeting line already says hello.
    return text.replace("Hi Hi there,", "Hi there,").replace("Hello Hi there,", "Hello,")


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


class TemplateWriter:
    name = "template"
    max_seconds = 1.0

    def write_sync(self, brief: CopyBrief) -> list[Draft]:
        fields = fields_for(brief)
        drafts = []
        for strategy, tone in PAIRS:
            subject_template, body_template = COPY[(strategy, tone)]
            subject = _capitalise(_fill(subject_template, fields))
            accept = ACCEPT_BY_REPLY[tone].format(plan_phrase=fields["plan_phrase"])
            body_text = _fill(body_template, {**fields, "accept": accept})
            drafts.append(Draft(strategy, tone, subject, body_text, text_to_html(body_text)))
        return drafts

    async def write(self, brief: CopyBrief) -> Written:
        return Written(self.write_sync(brief), generator="template")

    async def write_dunning(self, brief: DunningBrief) -> DunningEmail:
        return write_template(brief)
