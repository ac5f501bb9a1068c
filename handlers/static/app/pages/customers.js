// Customers: the at-risk list first (each row saying why), and one customer's daily activity
// drawn as a bar chart (inline SVG) above the day-by-day timeline.
import { api, showError } from "../api.js";
import { h, svg, clear } from "../dom.js";
import { money, dateTime } from "../format.js";

const LEVEL_LABEL = { high: "High risk", medium: "Medium risk", low: "Low risk" };

function customerLabel(c) {
  return c.name || c.customer_email || c.customer_id || c.key;
}

function riskBadge(risk) {
  return h("span", { class: `badge risk-${risk.level}` }, `${LEVEL_LABEL[risk.level]} · ${risk.score}`);
}

function table(here, rows) {
  return h("div", { class: "table-wrap" }, h("table", { class: "table customers" },
    h("thead", {}, h("tr", {}, ["Customer", "Risk", "Why", "MRR", "Status", "Last seen"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((c) => h("tr", { dataset: { customerKey: c.key } },
      h("td", {}, h("a", { href: `${here}/${encodeURIComponent(c.key)}`, class: "customer" }, customerLabel(c)),
        c.customer_email && c.name ? h("span", { class: "muted block" }, c.customer_email) : null),
      h("td", {}, riskBadge(c.risk)),
      h("td", {}, c.risk.reasons.length ? h("ul", { class: "reasons" }, c.risk.reasons.map((r) => h("li", {}, r.text)))
        : h("span", { class: "muted" }, "Nothing unusual")),
      h("td", { class: "num" }, money(c.mrr_cents, c.currency)),
      h("td", {}, c.status.replace(/_/g, " ")),
      h("td", {}, dateTime(c.last_seen_at)))))));
}

export async function list(main, ctx) {
  const { slug, query } = ctx;
  const here = `/app/projects/${encodeURIComponent(slug)}/customers`;
  document.title = `Customers · ${ctx.membership.name} · Windback`;
  const page = Number(query.get("page") || 1);
  const atRiskSlot = h("section", { class: "card", "aria-labelledby": "at-risk-title" },
    h("h2", { id: "at-risk-title" }, "At risk now"), h("p", { class: "loading", role: "status" }, "Loading…"));
  const allSlot = h("section", { "aria-labelledby": "all-title" }, h("h2", { id: "all-title" }, "All customers"));
  main.append(h("h1", {}, "Customers"), atRiskSlot, allSlot);
  let atRisk, all;
  try {
    [atRisk, all] = await Promise.all([
      api.get(api.project(slug) + "/customers", { level: "high", per_page: 20 }),
      api.get(api.project(slug) + "/customers", { page, per_page: 50 }),
    ]);
  } catch (error) {
    if (ctx.isCurrent()) showError(atRiskSlot, error);
    return;
  }
  if (!ctx.isCurrent()) return;
  clear(atRiskSlot, h("h2", { id: "at-risk-title" }, `At risk now (${atRisk.meta.total})`),
    atRisk.data.length ? table(here, atRisk.data)
      : h("p", { class: "empty" }, "No customer is at high risk. Scores come from the events your backend sends to /track."));
  const pages = Math.max(1, Math.ceil(all.meta.total / all.meta.per_page));
  const go = (n) => ctx.navigate(`${here}?page=${n}`);
  allSlot.append(all.data.length ? table(here, all.data) : h("p", { class: "empty card" }, "No customers yet."),
    h("nav", { class: "pager", "aria-label": "Pages" },
      h("button", { type: "button", class: "button small", disabled: page <= 1, onclick: () => go(page - 1) }, "Previous"),
      h("span", { "aria-current": "page" }, `Page ${page} of ${pages}`),
      h("button", { type: "button", class: "button small", disabled: page >= pages, onclick: () => go(page + 1) }, "Next")));
}

// Tracked events a day over the last 60 days; churns, emails, recoveries and billing actions as marks.
function activityChart(timeline) {
  const days = 60, width = 600, height = 140, bar = width / days;
  const byDay = new Map(timeline.map((d) => [d.day, d]));
  const today = new Date();
  const points = [];
  for (let i = days - 1; i >= 0; i--) {
    const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - i)).toISOString().slice(0, 10);
    const entry = byDay.get(day);
    const events = entry ? Object.values(entry.events).reduce((a, b) => a + b, 0) : 0;
    const marks = entry ? entry.churn_events + entry.emails_sent + entry.payment_recoveries + entry.billing_actions : 0;
    points.push({ day, events, marks, entry });
  }
  const top = Math.max(1, ...points.map((p) => p.events));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height + 20}`, class: "chart activity", role: "img",
    "aria-label": `Tracked events a day over the last ${days} days, at most ${top} in a day` });
  points.forEach((p, i) => {
    const barHeight = (p.events / top) * height;
    chart.append(svg("rect", { x: i * bar + 1, y: height - barHeight, width: bar - 2, height: barHeight, class: "bar" },
      svg("title", {}, `${p.day}: ${p.events} events`)));
    if (p.marks) {
      const what = [["churn_events", "churn"], ["emails_sent", "email"], ["payment_recoveries", "payment recovery"],
        ["billing_actions", "billing action"]].filter(([k]) => p.entry[k]).map(([k, label]) => `${p.entry[k]} ${label}`);
      chart.append(svg("circle", { cx: i * bar + bar / 2, cy: height + 10, r: 4, class: "mark" },
        svg("title", {}, `${p.day}: ${what.join(", ")}`)));
    }
  });
  return chart;
}

export async function detail(main, ctx) {
  const [slug, key] = ctx.params;
  const slot = h("div", {}, h("p", { class: "loading", role: "status" }, "Loading customer…"));
  main.append(slot);
  let customer;
  try {
    ({ data: customer } = await api.get(`${api.project(slug)}/customers/${encodeURIComponent(key)}`));
  } catch (error) {
    if (ctx.isCurrent()) showError(slot, error);
    return;
  }
  if (!ctx.isCurrent()) return;
  document.title = `${customerLabel(customer)} · Customers · Windback`;
  const c = customer;
  clear(slot,
    h("p", {}, h("a", { href: `/app/projects/${encodeURIComponent(slug)}/customers` }, "← Customers")),
    h("h1", {}, customerLabel(c), " ", riskBadge(c.risk)),
    h("dl", { class: "facts card" },
      h("dt", {}, "Email"), h("dd", {}, c.customer_email || "—"),
      h("dt", {}, "Customer id"), h("dd", {}, c.customer_id || "—"),
      h("dt", {}, "Status"), h("dd", {}, c.status.replace(/_/g, " ")),
      h("dt", {}, "MRR"), h("dd", {}, money(c.mrr_cents, c.currency)),
      h("dt", {}, "Events, last 14 days / 28 before"), h("dd", {}, `${c.events_last_14d} / ${c.events_prior_28d}`),
      h("dt", {}, "First seen"), h("dd", {}, dateTime(c.first_seen_at)),
      h("dt", {}, "Last seen"), h("dd", {}, dateTime(c.last_seen_at))),
    h("section", { class: "card" }, h("h2", {}, "Why this score"),
      c.risk.reasons.length ? h("ul", { class: "reasons" }, c.risk.reasons.map((r) => h("li", {}, `${r.text} (+${r.weight})`)))
        : h("p", { class: "muted" }, "Nothing unusual.")),
    h("section", { class: "card" }, h("h2", {}, "Activity, last 60 days"), activityChart(c.timeline)),
    h("section", { class: "card" }, h("h2", {}, "Timeline"),
      c.timeline.length ? h("ul", { class: "timeline" }, c.timeline.map((d) => h("li", {}, h("strong", {}, d.day), " ",
        [...Object.entries(d.events).map(([name, n]) => `${name} ×${n}`),
          d.churn_events ? `cancelled ×${d.churn_events}` : null, d.emails_sent ? `emails sent ×${d.emails_sent}` : null,
          d.payment_recoveries ? `payment recovery ×${d.payment_recoveries}` : null,
          d.billing_actions ? `billing action ×${d.billing_actions}` : null].filter(Boolean).join(", "))))
        : h("p", { class: "muted" }, "No activity in the last 180 days.")));
}
