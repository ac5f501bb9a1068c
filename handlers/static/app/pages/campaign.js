// The automatic win-back campaign: its settings (a section of the Settings page) with a summary
// in plain words, and the campaign page: the lift with its interval as a picture, both groups,
// each email's record and how the sends shift between strategies over time (docs/campaigns.md).
import { api, errorBanner, showError, showNotice } from "../api.js";
import { h, svg, clear, field, select } from "../dom.js";
import { CANCEL_REASONS, STRATEGIES, TONES, percent, date } from "../format.js";

const WORDS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"];
const word = (n) => WORDS[n] || String(n);
const labelOf = (list, v) => (list.find(([k]) => k === v) || [v, v])[1];

function span(hours) {
  if (hours >= 48) { const d = Math.round(hours / 24); return `${word(d)} day${d === 1 ? "" : "s"}`; }
  if (hours >= 1) { const n = Math.round(hours); return `${word(n)} hour${n === 1 ? "" : "s"}`; }
  const m = Math.max(1, Math.round(hours * 60)); return `${word(m)} minute${m === 1 ? "" : "s"}`;
}

/** "10% of customers get no email so you can see the lift; the rest get up to three emails over ten days." */
export function campaignSummary(c) {
  if (!c || !c.enabled) return "The campaign is off: nobody gets an automatic email.";
  const steps = c.steps || [];
  const n = steps.length;
  const last = n ? steps[n - 1].after_hours : 0;
  const rest = `up to ${word(n)} email${n === 1 ? "" : "s"} over ${span(last)}`;
  const who = c.reasons && c.reasons.length ? ` Only churns for ${c.reasons.map((r) => labelOf(CANCEL_REASONS, r).toLowerCase()).join(", ")} join.` : "";
  if (!Number(c.holdout_percent)) return `Every customer gets ${rest}; with no holdout the lift cannot be measured.${who}`;
  return `${c.holdout_percent}% of customers get no email so you can see the lift; the rest get ${rest}.${who}`;
}

const STEP_CHOICES = [["auto", "Chosen automatically"], ...STRATEGIES];

export function settingsSection(project, ctx, messages, reload) {
  const c = (project.settings || {}).campaign || {};
  const enabled = h("input", { type: "checkbox", name: "campaign_enabled", id: "campaign-enabled", checked: Boolean(c.enabled) });
  const holdout = h("input", { type: "number", name: "holdout_percent", min: 0, max: 50, step: "any", value: c.holdout_percent ?? 10, class: "short" });
  const minMrr = h("input", { type: "number", name: "min_mrr", min: 0, step: "0.01", value: ((c.min_mrr_cents || 0) / 100).toString(), class: "short" });
  const chosen = new Set(c.reasons || CANCEL_REASONS.map(([code]) => code));
  const reasons = CANCEL_REASONS.map(([code, label]) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: "campaign-reason-" + code, value: code, checked: chosen.has(code) }), " ", label));
  const stepRows = h("ol", { class: "steps" });
  const summary = h("p", { class: "summary", id: "campaign-summary", "aria-live": "polite" });
  const addRow = (step) => {
    const hours = h("input", { type: "number", name: "after_hours", min: 0, step: "any", value: step.after_hours, class: "short", "aria-label": "Hours after the churn" });
    const strategy = select("strategy", STEP_CHOICES, step.strategy || "auto", { "aria-label": "Email" });
    const remove = h("button", { type: "button", class: "button small", onclick() { row.remove(); update(); } }, "Remove");
    const row = h("li", { class: "step-row" }, hours, " hours after the churn: ", strategy, " ", remove);
    stepRows.append(row);
  };
  (c.steps || []).forEach(addRow);
  const collect = () => ({
    enabled: enabled.checked,
    holdout_percent: Number(holdout.value),
    min_mrr_cents: Math.round(Number(minMrr.value || 0) * 100),
    reasons: reasons.every((l) => l.querySelector("input").checked) ? null
      : reasons.map((l) => l.querySelector("input")).filter((i) => i.checked).map((i) => i.value),
    steps: [...stepRows.children].map((row) => ({
      after_hours: Number(row.querySelector("[name=after_hours]").value), strategy: row.querySelector("select").value })),
  });
  const update = () => { summary.textContent = campaignSummary(collect()); };
  const form = h("form", {
    class: "stack", oninput: update, onchange: update,
    async onsubmit(e) {
      e.preventDefault();
      try {
        await api.patch(api.project(ctx.slug), { settings: { campaign: collect() } });
        showNotice(messages, "Campaign saved.");
        reload();
      } catch (error) {
        showError(messages, error);
      }
    },
  },
  summary,
  h("div", { class: "field" }, h("label", { class: "check", for: "campaign-enabled" }, enabled, " Send win-back emails automatically")),
  field("Holdout (% of customers who get no email)", holdout, "0 to 50. They show what would have happened without the emails."),
  field("Minimum MRR", minMrr, "Only churns worth at least this much a month join."),
  h("fieldset", {}, h("legend", {}, "Cancel reasons that join"), h("div", { class: "checks" }, reasons)),
  h("fieldset", {}, h("legend", {}, "Emails"), stepRows,
    h("button", { type: "button", class: "button small", onclick() {
      if (stepRows.children.length >= 5) return;
      const last = stepRows.lastElementChild;
      addRow({ after_hours: last ? Number(last.querySelector("[name=after_hours]").value) * 2 || 24 : 1, strategy: "auto" });
      update();
    } }, "Add an email")),
  h("button", { type: "submit", class: "button primary" }, "Save campaign"));
  update();
  return h("section", { class: "card", id: "campaign", "aria-labelledby": "campaign-title" },
    h("h2", { id: "campaign-title" }, "Win-back campaign"), form,
    h("p", {}, h("a", { href: `/app/projects/${encodeURIComponent(ctx.slug)}/campaign` }, "See what the campaign did")));
}

const W = 640;

/** The lift and its 95% interval on a line through zero. */
function liftPicture(lift) {
  const lo = Math.min(lift.ci95_low, 0, -0.05);
  const hi = Math.max(lift.ci95_high, 0, 0.05);
  const x = (v) => 24 + ((v - lo) / (hi - lo)) * (W - 48);
  const pts = (v) => `${(v * 100).toFixed(1)} pts`;
  const cls = lift.ci95_low > 0 ? "good" : lift.ci95_high < 0 ? "bad" : "unsure";
  return h("figure", { class: "chart-figure" }, svg("svg", { viewBox: `0 0 ${W} 90`, class: "chart lift", role: "img",
    "aria-label": `Lift ${pts(lift.absolute)}, 95% interval ${pts(lift.ci95_low)} to ${pts(lift.ci95_high)}` },
  svg("line", { x1: 24, x2: W - 24, y1: 50, y2: 50, class: "grid" }),
  svg("line", { x1: x(0), x2: x(0), y1: 20, y2: 80, class: "zero" }),
  svg("text", { x: x(0), y: 14, "text-anchor": "middle" }, "no difference"),
  svg("line", { x1: x(lift.ci95_low), x2: x(lift.ci95_high), y1: 50, y2: 50, class: `interval ${cls}` }),
  svg("circle", { cx: x(lift.absolute), cy: 50, r: 7, class: `estimate ${cls}` }),
  svg("text", { x: x(lift.ci95_low), y: 75, "text-anchor": "middle" }, pts(lift.ci95_low)),
  svg("text", { x: x(lift.ci95_high), y: 75, "text-anchor": "middle" }, pts(lift.ci95_high))),
  h("figcaption", {}, `Out of every 100 customers, ${(lift.absolute * 100).toFixed(1)} more came back with the emails than without `
    + `(95% interval ${pts(lift.ci95_low)} to ${pts(lift.ci95_high)}; p = ${lift.p_value.toPrecision(2)}).`));
}

/** Each day's sends, split by strategy (shares, so the shift shows whatever the volume). */
function sharesPicture(rows) {
  const days = [...new Set(rows.map((r) => r.date))].sort();
  const slot = (W - 48) / Math.max(days.length, 1);
  const chart = svg("svg", { viewBox: `0 0 ${W} 200`, class: "chart", role: "img", "aria-label": "Share of emails by strategy per day" });
  days.forEach((day, i) => {
    const today = rows.filter((r) => r.date === day);
    const total = today.reduce((n, r) => n + r.sent, 0);
    let y = 170;
    for (const [strategy, label] of STRATEGIES) {
      const sent = (today.find((r) => r.strategy === strategy) || { sent: 0 }).sent;
      const height = (150 * sent) / total;
      y -= height;
      chart.append(svg("rect", { x: 24 + i * slot + slot * 0.1, y, width: slot * 0.8, height, class: `bar ${strategy}` },
        svg("title", {}, `${date(day)} ${label}: ${sent} of ${total}`)));
    }
  });
  if (days.length) chart.append(svg("text", { x: 24, y: 190 }, date(days[0])), svg("text", { x: W - 24, y: 190, "text-anchor": "end" }, date(days[days.length - 1])));
  return h("figure", { class: "chart-figure" }, chart, h("ul", { class: "legend" },
    STRATEGIES.map(([s, label]) => h("li", {}, h("span", { class: `swatch ${s}`, "aria-hidden": "true" }), label))));
}

const groupCard = (title, g) => h("div", { class: "card stat", dataset: { group: title.toLowerCase() } },
  h("span", { class: "stat-label" }, title), h("strong", { class: "stat-value" }, percent(g.recovery_rate)),
  h("span", { class: "stat-note" }, `${g.recovered} of ${g.customers} customers came back`));

export async function page(main, ctx) {
  document.title = `Campaign · ${ctx.membership.name} · Windback`;
  const body = h("div", {}, h("p", { class: "loading", role: "status" }, "Loading the campaign…"));
  main.append(h("h1", {}, "Win-back campaign"), body);
  let report, project;
  try {
    [report, project] = await Promise.all([api.get(api.project(ctx.slug) + "/campaign"), api.get(api.project(ctx.slug))]);
  } catch (error) {
    if (ctx.isCurrent()) clear(body, errorBanner(error));
    return;
  }
  if (!ctx.isCurrent()) return;
  const r = report.data;
  const sent = r.arms.filter((a) => a.sent);
  clear(body,
    h("p", { class: "summary", id: "campaign-summary" }, campaignSummary(project.data.settings.campaign)),
    h("div", { class: "stats-grid" }, groupCard("Treatment", r.treatment), groupCard("Holdout", r.holdout)),
    h("section", { class: "card", id: "lift" }, h("h2", {}, "Lift"), r.lift ? liftPicture(r.lift)
      : h("p", { class: "empty" }, "The lift shows once both groups have customers.")),
    h("section", { class: "card", id: "arms" }, h("h2", {}, "Emails"), sent.length ? h("div", { class: "table-wrap" }, h("table", { class: "table" },
      h("thead", {}, h("tr", {}, ["Strategy", "Tone", "Sent", "Came back", "Rate", "Belief", "Recent share"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, sent.map((a) => h("tr", {}, h("td", {}, labelOf(STRATEGIES, a.strategy)), h("td", {}, labelOf(TONES, a.tone)),
        h("td", {}, String(a.sent)), h("td", {}, String(a.recovered)), h("td", {}, percent(a.recovery_rate)),
        h("td", {}, percent(a.posterior_mean)), h("td", {}, percent(a.share_of_recent_sends)))))))
      : h("p", { class: "empty" }, "No campaign email has been sent yet.")),
    r.sends_by_day.length ? h("section", { class: "card", id: "shares" }, h("h2", {}, "Which strategies it sends, day by day"), sharesPicture(r.sends_by_day)) : null);
}
