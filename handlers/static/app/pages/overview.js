// A project's overview: the stats as cards, churned vs recovered MRR by month, the cohort heat
// map, and the forecast with its band (or the "not enough history" message).
import { api, showError, errorBanner } from "../api.js";
import { h, clear, field, add } from "../dom.js";
import { barChart, forecastChart, heatClass } from "../charts.js";
import { moneyMap, moneyText, money, percent, reasonLabel, monthLabel, STRATEGIES, TONES } from "../format.js";

const SERIES = [{ name: "Churned MRR", cls: "churned" }, { name: "Recovered MRR", cls: "recovered" }];
const WINDOWS = ["7", "30", "60", "90"];

/** One line per currency, the largest first (amounts are never added across currencies). */
function moneyLines(value) {
  const entries = Object.entries(moneyMap(value)).sort((a, b) => b[1] - a[1]);
  if (entries.length <= 1) return moneyText(value);
  return entries.map(([cur, cents]) => h("span", { class: "block" }, money(cents, cur)));
}

function statCard(label, value, note, key) {
  return h("div", { class: "card stat", dataset: { stat: key } },
    h("span", { class: "stat-label" }, label),
    h("strong", { class: "stat-value" }, value),
    note ? h("span", { class: "stat-note" }, note) : null);
}

function currenciesOf(rows, fields) {
  const totals = {};
  for (const row of rows) for (const f of fields) {
    for (const [cur, cents] of Object.entries(moneyMap(row[f]))) totals[cur] = (totals[cur] || 0) + cents;
  }
  const list = Object.keys(totals).sort((a, b) => totals[b] - totals[a]);
  return list.length ? list : ["USD"];
}

const amount = (value, currency) => moneyMap(value, currency)[currency] || 0;

function statsCards(stats) {
  return h("div", { class: "stats-grid" },
    statCard("Churn events", String(stats.churn_events ?? 0), `${stats.open ?? 0} open`, "churn_events"),
    statCard("Recovered", String(stats.recovered ?? 0), `${percent(stats.recovery_rate)} recovery rate`, "recovered"),
    statCard("MRR churned", moneyLines(stats.mrr_churned_cents), "every event in range", "mrr_churned"),
    statCard("MRR recovered", moneyLines(stats.mrr_recovered_cents), null, "mrr_recovered"),
    statCard("Emails sent", String(stats.emails_sent ?? 0), null, "emails_sent"),
    statCard("Saved by the cancel flow", String(stats.saved ?? 0), `${percent(stats.save_rate)} save rate`, "saved"),
    statCard("Lost", String(stats.lost ?? 0), null, "lost"));
}

function reasonTable(stats) {
  const rows = Object.entries(stats.by_reason || {});
  if (!rows.length) return null;
  return h("section", { class: "card" }, h("h2", {}, "By cancel reason"),
    h("div", { class: "table-wrap" }, h("table", { class: "table" },
      h("thead", {}, h("tr", {}, ["Reason", "Churned", "Recovered", "Rate", "MRR churned"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.sort((a, b) => (b[1].churned || 0) - (a[1].churned || 0)).map(([reason, r]) => h("tr", {},
        h("th", { scope: "row" }, reasonLabel(reason)), h("td", {}, String(r.churned ?? 0)), h("td", {}, String(r.recovered ?? 0)),
        h("td", {}, percent(r.recovery_rate)), h("td", {}, moneyText(r.mrr_churned_cents))))))));
}

function variantTable(stats) {
  const rows = (stats.by_variant || []).filter((r) => r.sent);
  if (!rows.length) return null;
  const label = (list, v) => (list.find(([k]) => k === v) || [v, v])[1];
  return h("section", { class: "card" }, h("h2", {}, "Which emails win customers back"),
    h("div", { class: "table-wrap" }, h("table", { class: "table" },
      h("thead", {}, h("tr", {}, ["Strategy", "Tone", "Sent", "Recovered", "Rate"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.map((r) => h("tr", {},
        h("td", {}, label(STRATEGIES, r.strategy)), h("td", {}, label(TONES, r.tone)), h("td", {}, String(r.sent ?? 0)),
        h("td", {}, String(r.recovered ?? 0)), h("td", {}, percent(r.recovery_rate))))))));
}

function cohortTable(cohorts, currency) {
  if (!cohorts.some((c) => c.churned)) return h("p", { class: "empty" }, "No churn in these months yet.");
  return h("div", { class: "table-wrap" }, h("table", { class: "table heatmap", id: "cohort-table" },
    h("caption", { class: "sr-only" }, "Share of each month's churned customers recovered within 7, 30, 60 and 90 days"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Cohort"), h("th", { scope: "col" }, "Churned"),
      WINDOWS.map((d) => h("th", { scope: "col" }, `≤ ${d} days`)), h("th", { scope: "col" }, "Recovered"),
      h("th", { scope: "col" }, "MRR churned"), h("th", { scope: "col" }, "MRR recovered"))),
    h("tbody", {}, cohorts.map((c) => h("tr", { dataset: { cohort: c.cohort } },
      h("th", { scope: "row" }, monthLabel(c.cohort)), h("td", {}, String(c.churned ?? 0)),
      WINDOWS.map((d) => {
        const n = (c.recovered_within || {})[d] || 0;
        const rate = c.churned ? n / c.churned : 0;
        return h("td", { class: c.churned ? heatClass(rate) : "heat heat-none" }, c.churned ? `${percent(rate)} (${n})` : "—");
      }),
      h("td", { class: c.churned ? heatClass(c.recovery_rate) : "heat heat-none" }, c.churned ? percent(c.recovery_rate) : "—"),
      h("td", {}, money(amount(c.mrr_churned_cents, currency), currency)),
      h("td", {}, money(amount(c.mrr_recovered_cents, currency), currency)))))));
}

function forecastSection(fc, currency) {
  if (!fc) return null;
  if (fc.insufficient_history || !(fc.forecast || []).length) {
    return h("div", { class: "banner info", role: "status", id: "forecast-empty" },
      "Not enough history for a forecast yet: it needs at least 3 complete calendar months between the first churn and now. ",
      "Until then the numbers above are what there is.");
  }
  const pick = (v) => amount(v, currency);
  return forecastChart({
    currency, series: SERIES, title: `Churned and recovered MRR, history and ${fc.horizon}-month forecast (${currency})`,
    history: (fc.history || []).map((p) => ({ month: p.month, a: pick(p.mrr_churned_cents), b: pick(p.mrr_recovered_cents) })),
    forecast: fc.forecast.map((p) => ({
      month: p.month, a: pick(p.mrr_churned_cents), b: pick(p.mrr_recovered_cents),
      aLow: pick(p.mrr_churned_low), aHigh: pick(p.mrr_churned_high), bLow: pick(p.mrr_recovered_low), bHigh: pick(p.mrr_recovered_high),
    })),
  });
}

export async function page(main, ctx) {
  const { slug } = ctx;
  const base = api.project(slug);
  document.title = `Overview · ${ctx.membership.name} · Windback`;
  const range = { from: ctx.query.get("from") || "", to: ctx.query.get("to") || "" };
  const from = h("input", { type: "date", name: "from", value: range.from });
  const to = h("input", { type: "date", name: "to", value: range.to });
  const rangeForm = h("form", {
    class: "inline-form", "aria-label": "Date range",
    onsubmit(e) {
      e.preventDefault();
      const q = new URLSearchParams();
      if (from.value) q.set("from", from.value);
      if (to.value) q.set("to", to.value);
      ctx.navigate(`/app/projects/${encodeURIComponent(slug)}${q.toString() ? "?" + q : ""}`);
    },
  }, field("From", from), field("To", to), h("button", { type: "submit", class: "button" }, "Apply"));
  const body = h("div", { class: "overview" }, h("p", { class: "loading", role: "status" }, "Loading numbers…"));
  main.append(h("div", { class: "page-head" }, h("h1", {}, ctx.membership.name), rangeForm), body);

  const params = { from: range.from, to: range.to };
  const [stats, cohorts, forecast] = await Promise.allSettled([
    api.get(base + "/stats", params), api.get(base + "/cohorts", { ...params, months: 12 }),
    api.get(base + "/forecasting", { ...params, horizon: 3 })]);
  if (!ctx.isCurrent()) return;
  clear(body);
  if (stats.status === "rejected") body.append(errorBanner(stats.reason));
  else {
    const s = stats.value.data;
    body.append(statsCards(s));
    if (!s.churn_events) {
      body.append(h("div", { class: "empty card" }, h("p", {}, "No churn events yet. Send them with the API (",
        h("code", {}, "POST /api/v1/projects/" + slug + "/churn-events"), "), connect Stripe or Razorpay webhooks in Settings, or add the cancel-flow widget.")));
    }
  }
  const cohortRows = cohorts.status === "fulfilled" ? (cohorts.value.data.cohorts || []) : [];
  const currencies = currenciesOf(cohortRows, ["mrr_churned_cents", "mrr_recovered_cents"]);
  const chartsSlot = h("div");
  let currency = currencies[0];
  const currencyPicker = currencies.length > 1 ? field("Currency", h("select", {
    onchange(e) { currency = e.target.value; drawCharts(); },
  }, currencies.map((c) => h("option", { value: c }, c)))) : null;

  function drawCharts() {
    const monthly = h("section", { class: "card", id: "mrr-chart" }, h("h2", {}, "Churned vs recovered MRR by month"));
    if (cohorts.status === "rejected") monthly.append(errorBanner(cohorts.reason));
    else monthly.append(barChart({
      currency, series: SERIES, title: `Churned and recovered MRR by month (${currency})`,
      rows: cohortRows.map((c) => ({ month: c.cohort, values: [amount(c.mrr_churned_cents, currency), amount(c.mrr_recovered_cents, currency)] })),
    }));
    const heat = h("section", { class: "card", id: "cohorts" }, h("h2", {}, "Cohorts: recovered within days of churn"));
    heat.append(cohorts.status === "rejected" ? errorBanner(cohorts.reason) : cohortTable(cohortRows, currency));
    const fc = h("section", { class: "card", id: "forecast" }, h("h2", {}, "Forecast"));
    add(fc, forecast.status === "rejected" ? errorBanner(forecast.reason) : forecastSection(forecast.value.data, currency));
    clear(chartsSlot, monthly, heat, fc);
  }
  drawCharts();
  add(body, currencyPicker, chartsSlot);
  if (stats.status === "fulfilled") add(body, reasonTable(stats.value.data), variantTable(stats.value.data));
}
