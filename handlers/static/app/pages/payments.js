// Failed payments: open recoveries (amount, step, next email), the amount recovered and the rate by
// month, and one recovery's timeline (failure, each dunning email, the outcome) with a Stop button.
import { api, showError, showNotice } from "../api.js";
import { h, clear, field, select, confirmDialog } from "../dom.js";
import { money, moneyText, percent, dateTime, monthLabel } from "../format.js";

const STATUSES = [["open", "Open"], ["recovered", "Recovered"], ["failed", "Failed"], ["stopped", "Stopped"], ["", "Any status"]];

function stepText(r) {
  if (r.status !== "open") return r.emails_sent ? `${r.emails_sent} sent` : "—";
  return r.emails_sent ? `${r.emails_sent} sent` : "none yet";
}

function monthsTable(months) {
  if (!months.length) return h("p", { class: "muted" }, "No failed payments yet.");
  return h("div", { class: "table-wrap" }, h("table", { class: "table", id: "recovery-months" },
    h("thead", {}, h("tr", {}, ["Month", "Failed payments", "Recovered", "Rate", "Amount recovered"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, months.map((m) => h("tr", { dataset: { month: m.month } },
      h("td", {}, monthLabel(m.month)), h("td", { class: "num" }, String(m.opened)),
      h("td", { class: "num" }, String(m.recovered)), h("td", { class: "num" }, percent(m.recovery_rate)),
      h("td", { class: "num" }, moneyText(m.amount_recovered_cents)))))));
}

function recoveriesTable(rows, here) {
  return h("div", { class: "table-wrap" }, h("table", { class: "table", id: "recoveries-table" },
    h("thead", {}, h("tr", {}, ["Customer", "Amount due", "Attempts", "Emails", "Next email", "Status", "Failed"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((r) => h("tr", { dataset: { recoveryId: r.id } },
      h("td", {}, h("a", { href: `${here}?recovery=${encodeURIComponent(r.id)}` },
        r.customer_name || r.customer_email || r.customer_id || "(unknown customer)"),
      r.customer_name && r.customer_email ? h("span", { class: "muted block" }, r.customer_email) : null),
      h("td", { class: "num" }, money(r.amount_due_cents, r.currency)),
      h("td", { class: "num" }, String(r.attempt_count)),
      h("td", {}, stepText(r)),
      h("td", {}, dateTime(r.next_email_at)),
      h("td", {}, h("span", { class: `badge status-${r.status}` }, r.status)),
      h("td", {}, dateTime(r.started_at)))))));
}

function timeline(r) {
  const items = [h("li", {}, h("strong", {}, dateTime(r.started_at)), ` Payment of ${money(r.amount_due_cents, r.currency)} failed (${r.provider}, invoice ${r.invoice_id}, attempt ${r.attempt_count})`)];
  for (const e of r.emails) {
    const when = e.sent_at || e.due_at;
    const what = { sent: "sent", scheduled: "scheduled", skipped: "skipped", cancelled: "cancelled", failed: "failed" }[e.status];
    items.push(h("li", { dataset: { step: e.step, status: e.status } }, h("strong", {}, dateTime(when)),
      ` Email ${e.step + 1}: ${what}`, e.error ? h("span", { class: "muted" }, ` (${e.error})`) : null));
  }
  if (r.status !== "open") items.push(h("li", {}, h("strong", {}, dateTime(r.closed_at)), ` ${r.status}` +
    (r.status === "recovered" ? `: ${money(r.amount_recovered_cents ?? r.amount_due_cents, r.currency)} paid` : "")));
  return h("ol", { class: "timeline", id: "recovery-timeline" }, items);
}

async function detail(slot, ctx, id, here) {
  let r;
  try {
    r = (await api.get(api.project(ctx.slug) + "/payment-recoveries/" + encodeURIComponent(id))).data;
  } catch (error) {
    if (ctx.isCurrent()) showError(slot, error);
    return;
  }
  if (!ctx.isCurrent()) return;
  const messages = h("div", { class: "messages" });
  const stop = r.status === "open" ? h("button", {
    type: "button", class: "button danger", id: "stop-recovery",
    async onclick() {
      const ok = await confirmDialog({ title: "Stop this recovery?", body: "The emails not sent yet are cancelled.", confirmLabel: "Stop", danger: true });
      if (!ok) return;
      try {
        await api.post(api.project(ctx.slug) + "/payment-recoveries/" + encodeURIComponent(id) + "/stop");
        ctx.navigate(`${here}?recovery=${encodeURIComponent(id)}`, { replace: true });
        showNotice(messages, "Stopped.");
      } catch (error) { showError(messages, error); }
    },
  }, "Stop emails") : null;
  clear(slot, h("section", { class: "card", id: "recovery-detail" },
    h("h2", {}, r.customer_name || r.customer_email || "Recovery"),
    h("p", {}, `${money(r.amount_due_cents, r.currency)} · `, h("span", { class: `badge status-${r.status}` }, r.status),
      r.update_payment_url ? [" · ", h("a", { href: r.update_payment_url, rel: "noopener noreferrer", target: "_blank" }, "payment link")] : null),
    timeline(r), messages, stop, h("p", {}, h("a", { href: here }, "Back to all failed payments"))));
}

export async function page(main, ctx) {
  const { slug, query } = ctx;
  const here = `/app/projects/${encodeURIComponent(slug)}/payments`;
  document.title = `Failed payments · ${ctx.membership.name} · Windback`;
  main.append(h("h1", {}, "Failed payments"));
  const recoveryId = query.get("recovery");
  if (recoveryId) {
    const slot = h("div", {}, h("p", { class: "loading", role: "status" }, "Loading…"));
    main.append(slot);
    await detail(slot, ctx, recoveryId, here);
    return;
  }
  const status = query.has("status") ? query.get("status") : "open";
  const statusSelect = select("status", STATUSES, status, {
    onchange: (e) => ctx.navigate(`${here}?status=${encodeURIComponent(e.target.value)}`),
  });
  const summary = h("div", { class: "cards", id: "recovery-summary" });
  const monthsSlot = h("section", { class: "card" }, h("h2", {}, "Recovered by month"), h("p", { class: "loading" }, "Loading…"));
  const listSlot = h("section", { class: "card" }, h("h2", {}, "Recoveries"),
    field("Status", statusSelect),
    h("p", { class: "loading", role: "status" }, "Loading…"));
  main.append(summary, listSlot, monthsSlot);
  const base = api.project(slug);
  const [stats, months, list] = await Promise.allSettled([
    api.get(base + "/stats"), api.get(base + "/payment-recovery-months"),
    api.get(base + "/payment-recoveries", { status, sort: "created_at", per_page: 50 })]);
  if (!ctx.isCurrent()) return;
  if (stats.status === "fulfilled") {
    const p = stats.value.data.payment_recovery;
    const card = (label, value, id) => h("div", { class: "card stat", id },
      h("span", { class: "stat-label" }, label), h("strong", { class: "stat-value" }, value));
    clear(summary, card("Open", String(p.open), "stat-open"), card("Recovered", String(p.recovered), "stat-recovered"),
      card("Recovery rate", percent(p.recovery_rate), "stat-rate"), card("Amount recovered", moneyText(p.amount_recovered_cents), "stat-amount"));
  } else showError(summary, stats.reason);
  if (months.status === "fulfilled") clear(monthsSlot, h("h2", {}, "Recovered by month"), monthsTable(months.value.data));
  else showError(monthsSlot, months.reason);
  const listBody = h("div", {});
  listSlot.lastChild.replaceWith(listBody);
  if (list.status === "rejected") { showError(listBody, list.reason); return; }
  const rows = list.value.data;
  listBody.append(rows.length ? recoveriesTable(rows, here)
    : h("p", { class: "empty" }, status === "open" ? "No open failed payments." : "None match."));
}
