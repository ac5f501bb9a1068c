"""The built-in template writer: nine distinct, filled, safe emails without any AI account."""
import asyncio
import re

from services.writers import PAIRS, Written
from services.writers.brief import describe_offer, make_brief
from services.writers.template import TemplateWriter


def brief(name="Ada Lovelace", plan="Pro", reason="too_expensive", settings=None, project="Acme Analytics"):
    return make_brief(customer_name=name, plan=plan, reason=reason, currency="USD", project_name=project,
                      settings=settings or {})


def write(b):
    return asyncio.run(TemplateWriter().write(b))


def test_nine_distinct_pairs_and_texts_filled_with_the_customer():
    written = write(brief())
    assert isinstance(written, Written) and written.generator == "template" and written.warnings == []
    assert [(d.strategy, d.tone) for d in written.drafts] == list(PAIRS)
    assert len({d.subject for d in written.drafts}) == 9
    assert len({d.body_text for d in written.drafts}) == 9
    for draft in written.drafts:
        assert "Ada" in draft.body_text and "Lovelace" not in draft.body_text  # the first name only
        assert "Acme Analytics" in draft.body_text
        assert "Pro plan" in draft.body_text or "Pro plan" in draft.subject or draft.strategy == "personal_check_in"
        for text in (draft.subject, draft.body_text, draft.body_html):
            assert not re.search(r"[{}]", text), text  # no unfilled placeholder
        assert draft.body_html.startswith("<!DOCTYPE html>") and "<p>" in draft.body_html
    discount = [d for d in written.drafts if d.strategy == "discount_offer"]
    assert all("20% off your next 3 months" in d.body_text for d in discount)
    # Without a one-click link (added later, when billing is connected) they say to reply.
    assert all("reply" in d.body_text.lower() for d in discount)
    assert "switch your Pro plan back on" in discount[2].body_text
    assert any("price" in d.body_text for d in written.drafts)  # the reason is spoken to


def test_offer_comes_from_the_cancel_flow_settings():
    settings = {"cancel_flow": {"offers": {"too_expensive": {"type": "discount", "percent_off": 35, "months": 6}}},
                "brand_name": "Acme"}
    written = write(brief(settings=settings))
    discount = [d for d in written.drafts if d.strategy == "discount_offer"]
    assert all("35% off your next 6 months" in d.body_text for d in discount)
    assert all("Acme" in d.body_text and "Acme Analytics" not in d.body_text for d in written.drafts)
    # A reason without an offer of its own still gets a concrete one: the project's discount.
    written = write(brief(reason="missing_features", settings=settings))
    assert "35% off your next 6 months" in written.drafts[0].body_text
    # A pause for `temporary`, and malformed settings fall back to the default discount.
    pause = {"cancel_flow": {"offers": {"temporary": {"type": "pause", "months": 2}}}}
    assert "a free pause of up to 2 months" in write(brief(reason="temporary", settings=pause)).drafts[0].body_text
    broken = {"cancel_flow": {"offers": {"too_expensive": {"type": "discount", "percent_off": "lots"}}}}
    assert "20% off your next 3 months" in write(brief(settings=broken)).drafts[0].body_text
    assert write(brief(settings={"cancel_flow": "nonsense"})).drafts[0].body_text.count("20% off") == 1


def test_offer_wording():
    assert describe_offer({"type": "downgrade", "to_plan": "Starter", "price_cents": 900}, "EUR") == \
        "a move to our Starter plan at 9.00 EUR a month"
    assert describe_offer({"type": "discount", "percent_off": 10, "months": 1}) == "10% off your next month"
    assert describe_offer({"type": "discount", "percent_off": 0, "months": 1}) is None


def test_html_escapes_customer_supplied_text():
    written = write(brief(name="<script>alert(1)</script> Smith", plan="<b>Gold</b>",
                          project="Tom & Jerry's"))
    for draft in written.drafts:
        assert "<script>" not in draft.body_html and "<b>" not in draft.body_html
        assert "&lt;script&gt;" in draft.body_html
        assert "Tom &amp; Jerry&#x27;s" in draft.body_html
        assert "<script>alert(1)</script>" in draft.body_text  # plain text stays as written


def test_no_name_no_plan_no_reason_still_reads_well():
    written = write(brief(name=None, plan=None, reason=None))
    for draft in written.drafts:
        assert "Hi Hi" not in draft.body_text and "None" not in draft.body_text
        assert draft.body_text.startswith(("Hi there,", "Hello,"))
        assert "your subscription" in draft.body_text or draft.strategy == "personal_check_in"
    assert "{" not in "".join(d.subject + d.body_text for d in written.drafts)


def test_a_name_that_looks_like_a_placeholder_stays_literal_and_newlines_never_reach_the_subject():
    written = write(brief(name="{brand}\nBcc: x@evil.test"))
    assert all("\n" not in d.subject for d in written.drafts)
    assert "{brand}" in written.drafts[0].body_text


def test_deterministic():
    assert write(brief()).drafts == write(brief()).drafts
