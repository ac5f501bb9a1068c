// One churn event: its details, the nine variants as a 3x3 grid (strategy x tone), generate,
// edit in place, send with a confirmation, change the reason and mark recovered.
import { api, showError, showNotice, errorBanner } from "../api.js";
import { h, clear, field, select, confirmDialog } from "../dom.js";
import { CANCEL_REASONS, STRATEGIES, TONES, money, dateTime, reasonLabel, statusLabel } from "../format.js";
import { billingActionsSection } from "./billing.js";

const CLOSED = ["recovered", "saved"];

function customerLabel(e) {
  return e.customer_name || e.customer_email || e.customer_id || "Unknown customer";
}

function details(e) {
  const row = (label, value) => [h("dt", {}, label), h("dd", {}, value)];
  return h("dl", { class: "details" },
    row("Email", e.customer_email || "— (not known yet: emails cannot be sent)"),
    row("Customer id", e.customer_id || "—"),
    row("Plan", e.plan || "—"),
    row("MRR", money(e.mrr_cents, e.currency)),
    row("Reason", reasonLabel(e.cancel_reason)),
    row("In their words", e.cancel_reason_detail ? h("q", { class: "detail" }, e.cancel_reason_detail) : "—"),
    row("Source", e.source),
    row("Churned", dateTime(e.churned_at)),
    e.recovered_at ? row("Recovered", `${dateTime(e.recovered_at)} · ${money(e.recovered_mrr_cents, e.currency)}`) : null,
    e.saved ? row("Saved", "Accepted an offer in the cancel flow") : null);
}

/** The variant to show in a grid cell: the unsent one if any, else the latest sent. */
function cellVariant(variants, strategy, tone) {
  const matching = variants.filter((v) => v.strategy === strategy && v.tone === tone);
  return matching.find((v) => v.status !== "sent") || matching.sort((a, b) => String(b.sent_at).localeCompare(String(a.sent_at)))[0] || null;
}

function parseMoney(text) {
  const n = Number(String(text).replace(/[^0-9.]/g, ""));
  return Number.isFinite(n) ? Math.round(n * 100) : NaN;
}

export async function page(main, ctx) {
  const [slug, eventId] = ctx.params;
  const base = `${api.project(slug)}/churn-events/${encodeURIComponent(eventId)}`;
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  const body = h("div", {}, h("p", { class: "loading", role: "status" }, "Loading the churn event…"));
  main.append(h("p", { class: "crumbs" }, h("a", { href: `/app/projects/${encodeURIComponent(slug)}/events` }, "← Churn events")),
    messages, body);

  let event;
  let variants = [];
  let variantsError = null;

  async function load() {
    // The event and its variants load side by side; a failure of one does not hide the other.
    const [e, v] = await Promise.allSettled([api.get(base), api.get(base + "/variants", { per_page: 100 })]);
    if (!ctx.isCurrent()) return;
    if (e.status === "rejected") { clear(body); showError(messages, e.reason); return; }
    event = e.value.data;
    variants = v.status === "fulfilled" ? (v.value.data || []) : [];
    variantsError = v.status === "rejected" ? v.reason : null;
    draw();
  }

  async function act(fn, notice) {
    messages.replaceChildren();
    try {
      const result = await fn();
      await load();
      const warnings = (result && result.meta && result.meta.warnings) || [];
      if (notice) showNotice(messages, [notice, ...warnings].join(" "));
    } catch (error) {
      showError(messages, error);
      await load();
    }
  }

  function recoveredForm() {
    if (CLOSED.includes(event.status)) return null;
    const amount = h("input", { type: "text", inputmode: "decimal", name: "recovered_mrr", value: (event.mrr_cents / 100).toFixed(2), class: "short" });
    return h("form", {
      class: "inline-form",
      async onsubmit(e) {
        e.preventDefault();
        const cents = parseMoney(amount.value);
        if (Number.isNaN(cents)) { showError(messages, { message: "Enter the recovered MRR as a number, e.g. 49.00" }); return; }
        const ok = await confirmDialog({
          title: "Mark as recovered?",
          body: [h("p", {}, "This records ", h("strong", {}, customerLabel(event)), ` as won back, with ${money(cents, event.currency)} of monthly revenue.`)],
          confirmLabel: "Mark recovered",
        });
        if (ok) await act(() => api.post(base + "/recovered", { recovered_mrr_cents: cents }), "Marked as recovered.");
      },
    }, field(`Recovered MRR (${event.currency})`, amount), h("button", { type: "submit", class: "button primary", id: "mark-recovered" }, "Mark recovered"));
  }

  function reasonForm() {
    const reason = select("cancel_reason", CANCEL_REASONS, event.cancel_reason || "other");
    const detail = h("input", { type: "text", name: "cancel_reason_detail", value: event.cancel_reason_detail || "", maxlength: 5000 });
    return h("details", { class: "reason-edit" }, h("summary", {}, "Change the cancel reason"),
      h("form", {
        class: "stack",
        async onsubmit(e) {
          e.preventDefault();
          await act(() => api.patch(base + "/cancel-reason", { cancel_reason: reason.value, cancel_reason_detail: detail.value || null }),
            "Cancel reason updated.");
        },
      }, field("Reason", reason), field("Detail", detail), h("button", { type: "submit", class: "button" }, "Save reason")));
  }

  function variantView(cell, v) {
    const sendable = v.status !== "sent" && !CLOSED.includes(event.status);
    clear(cell,
      h("div", { class: "variant-head" },
        h("span", { class: `badge variant-${v.status}` }, v.status),
        h("span", { class: "muted small" }, v.generator || "")),
      h("h4", { class: "subject" }, v.subject || "(no subject)"),
      h("p", { class: "body-text" }, v.body_text || ""),
      v.error ? h("p", { class: "banner error small", role: "alert" }, `Last attempt failed: ${v.error}`) : null,
      v.sent_at ? h("p", { class: "muted small" }, `Sent ${dateTime(v.sent_at)}`) : null,
      h("div", { class: "actions" },
        v.status !== "sent" ? h("button", { type: "button", class: "button small", onclick: () => editView(cell, v) }, "Edit") : null,
        sendable ? h("button", { type: "button", class: "button small primary", onclick: () => send(v) }, "Send…") : null));
  }

  function editView(cell, v) {
    const subject = h("input", { type: "text", name: "subject", value: v.subject || "" });
    const text = h("textarea", { name: "body_text", rows: 10 }, v.body_text || "");
    const form = h("form", {
      class: "stack",
      async onsubmit(e) {
        e.preventDefault();
        form.querySelector("button[type=submit]").disabled = true;
        await act(() => api.patch(`${base}/variants/${encodeURIComponent(v.id)}`, { subject: subject.value, body_text: text.value }),
          "Variant saved.");
      },
    }, field("Subject", subject), field("Body", text, "Plain text; the HTML version of the email is rebuilt from it."),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "button small primary" }, "Save"),
      h("button", { type: "button", class: "button small", onclick: () => variantView(cell, v) }, "Cancel")));
    clear(cell, form);
    subject.focus();
  }

  async function send(v) {
    const ok = await confirmDialog({
      title: "Send this email?",
      body: [h("p", {}, "To: ", h("strong", {}, event.customer_email || "(no address)")),
        h("p", {}, "Subject: ", h("strong", {}, v.subject || "")),
        h("p", { class: "muted" }, "It goes out at once and cannot be unsent.")],
      confirmLabel: "Send email",
    });
    if (ok) await act(() => api.post(`${base}/variants/${encodeURIComponent(v.id)}/send`), `Sent to ${event.customer_email}.`);
  }

  function variantsSection() {
    const closed = CLOSED.includes(event.status);
    const unsent = variants.filter((v) => v.status !== "sent");
    const generate = h("button", {
      type: "button", class: "button primary", id: "generate", disabled: closed,
      async onclick() {
        generate.disabled = true;
        generate.textContent = "Writing nine emails…";
        await act(() => api.post(base + "/generate"), "Nine new variants are ready.");
      },
    }, unsent.length ? "Generate again" : "Generate variants");
    const section = h("section", { class: "card", "aria-labelledby": "variants-title" },
      h("div", { class: "section-head" }, h("h2", { id: "variants-title" }, "Recovery emails"), generate),
      closed ? h("p", { class: "muted" }, `This customer is ${event.status}; no more emails are needed.`) : null);
    if (variantsError) {
      section.append(errorBanner(variantsError));
      return section;
    }
    if (!variants.length) {
      section.append(h("p", { class: "empty" }, "No emails yet. Generate writes nine: three strategies in three tones."));
      return section;
    }
    if (unsent.length) section.append(h("p", { class: "muted" }, "Generating again replaces the unsent emails and keeps sent ones."));
    const grid = h("div", { class: "variant-grid", role: "table", "aria-label": "Variants by strategy and tone" },
      h("div", { class: "grid-row head", role: "row" }, h("span", { role: "columnheader" }, ""),
        TONES.map(([, label]) => h("span", { role: "columnheader", class: "tone" }, label))),
      STRATEGIES.map(([strategy, label]) => h("div", { class: "grid-row", role: "row" },
        h("span", { role: "rowheader", class: "strategy" }, label),
        TONES.map(([tone, toneLabel]) => {
          const cell = h("div", { role: "cell", class: "variant card-inner", dataset: { strategy, tone }, "aria-label": `${label}, ${toneLabel}` });
          const v = cellVariant(variants, strategy, tone);
          if (v) { cell.dataset.variantId = v.id; variantView(cell, v); } else cell.append(h("p", { class: "muted" }, "—"));
          return cell;
        }))));
    section.append(grid);
    const sent = variants.filter((v) => v.status === "sent");
    if (sent.length) {
      section.append(h("h3", {}, "Sent"), h("ul", { class: "sent-list" }, sent.map((v) => h("li", {},
        h("strong", {}, v.subject || ""), ` · ${v.strategy.replace(/_/g, " ")}, ${v.tone} · ${dateTime(v.sent_at)}`))));
    }
    return section;
  }

  function draw() {
    document.title = `${customerLabel(event)} · Churn event · Windback`;
    clear(body,
      h("div", { class: "page-head" },
        h("h1", { class: "customer-name" }, customerLabel(event)),
        h("span", { class: `badge status-${event.status}`, id: "event-status" }, statusLabel(event.status))),
      h("div", { class: "two-col" },
        h("section", { class: "card" }, h("h2", {}, "Details"), details(event)),
        h("section", { class: "card" }, h("h2", {}, "Outcome"),
          CLOSED.includes(event.status) ? h("p", {}, `This customer is ${statusLabel(event.status)}.`) : recoveredForm(),
          reasonForm())),
      variantsSection(), billingSlot);
    billingActionsSection(slug, event).then((section) => { if (ctx.isCurrent()) billingSlot.replaceChildren(section); });
  }
  const billingSlot = h("div");

  await load();
}
