// Charts drawn as SVG by our own code (no library, nothing fetched): grouped bars for churned vs
// recovered MRR by month, and a forecast line chart with its low-high band.
import { svg, h } from "./dom.js";
import { money, monthLabel } from "./format.js";

const W = 640;
const H = 260;
const PAD = { top: 16, right: 28, bottom: 34, left: 64 };

function niceMax(value) {
  if (value <= 0) return 100;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * exp >= value) return step * exp;
  return 10 * exp;
}

function axes(maxValue, currency) {
  const g = svg("g", { class: "axis" });
  const innerH = H - PAD.top - PAD.bottom;
  for (let i = 0; i <= 4; i += 1) {
    const v = (maxValue * i) / 4;
    const y = PAD.top + innerH - (innerH * i) / 4;
    g.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: "grid" }),
      svg("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end" }, money(v, currency)));
  }
  return g;
}

function legend(series) {
  return h("ul", { class: "legend" }, series.map((s) => h("li", {}, h("span", { class: `swatch ${s.cls}`, "aria-hidden": "true" }), s.name)));
}

/** rows: [{month, values: [n, n]}], series: [{name, cls}] (one value per series). */
export function barChart({ rows, series, currency = "USD", title }) {
  const maxValue = niceMax(Math.max(0, ...rows.flatMap((r) => r.values)));
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const slot = innerW / Math.max(rows.length, 1);
  const barW = Math.max(2, Math.min(28, (slot * 0.8) / series.length));
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title },
    svg("title", {}, title), axes(maxValue, currency));
  rows.forEach((row, i) => {
    const x0 = PAD.left + slot * i + (slot - barW * series.length) / 2;
    row.values.forEach((value, j) => {
      const barH = (innerH * value) / maxValue;
      chart.append(svg("rect", {
        x: x0 + j * barW, y: PAD.top + innerH - barH, width: barW - 1, height: Math.max(barH, 0),
        class: `bar ${series[j].cls}`, dataset: { month: row.month, series: series[j].cls, value },
      }, svg("title", {}, `${monthLabel(row.month)} ${series[j].name}: ${money(value, currency)}`)));
    });
    const every = Math.ceil(rows.length / 12);
    if (i % every === 0) {
      chart.append(svg("text", { x: PAD.left + slot * i + slot / 2, y: H - 12, "text-anchor": "middle", class: "axis-label" },
        monthLabel(row.month)));
    }
  });
  return h("figure", { class: "chart-figure" }, chart, legend(series));
}

/** history: [{month, a, b}], forecast: [{month, a, b, aLow, aHigh, bLow, bHigh}]. */
export function forecastChart({ history, forecast, series, currency = "USD", title }) {
  const all = [...history, ...forecast];
  const values = all.flatMap((p) => [p.a, p.b, p.aHigh ?? 0, p.bHigh ?? 0]);
  const maxValue = niceMax(Math.max(0, ...values));
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const step = innerW / Math.max(all.length - 1, 1);
  const x = (i) => PAD.left + step * i;
  const y = (v) => PAD.top + innerH - (innerH * Math.max(v, 0)) / maxValue;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title },
    svg("title", {}, title), axes(maxValue, currency));
  const n = history.length;
  for (const [key, low, high, cls] of [["a", "aLow", "aHigh", series[0].cls], ["b", "bLow", "bHigh", series[1].cls]]) {
    if (forecast.length) {
      const start = n ? [[x(n - 1), y(history[n - 1][key])]] : [];
      const top = forecast.map((p, i) => [x(n + i), y(p[high])]);
      const bottom = forecast.map((p, i) => [x(n + i), y(p[low])]).reverse();
      chart.append(svg("polygon", { class: `band ${cls}`, points: [...start, ...top, ...bottom].map((pt) => pt.join(",")).join(" ") },
        svg("title", {}, `${key === "a" ? series[0].name : series[1].name}: forecast range`)));
    }
    const histPts = history.map((p, i) => `${x(i)},${y(p[key])}`).join(" ");
    if (history.length) chart.append(svg("polyline", { class: `line ${cls}`, points: histPts }));
    if (forecast.length) {
      const fc = [...(n ? [`${x(n - 1)},${y(history[n - 1][key])}`] : []), ...forecast.map((p, i) => `${x(n + i)},${y(p[key])}`)];
      chart.append(svg("polyline", { class: `line dashed ${cls}`, points: fc.join(" ") }));
    }
    all.forEach((p, i) => chart.append(svg("circle", { cx: x(i), cy: y(p[key]), r: 3, class: `dot ${cls}` },
      svg("title", {}, `${monthLabel(p.month)} ${key === "a" ? series[0].name : series[1].name}${i >= n ? " (forecast)" : ""}: ${money(p[key], currency)}`))));
  }
  const every = Math.ceil(all.length / 12);
  all.forEach((p, i) => {
    if (i % every === 0) chart.append(svg("text", { x: x(i), y: H - 12, "text-anchor": "middle", class: i >= n ? "axis-label forecast" : "axis-label" }, monthLabel(p.month)));
  });
  if (n && forecast.length) {
    chart.append(svg("line", { x1: x(n - 1), x2: x(n - 1), y1: PAD.top, y2: PAD.top + innerH, class: "now" }));
  }
  return h("figure", { class: "chart-figure" }, chart,
    legend([...series, { name: "Forecast range", cls: "band-swatch" }]));
}

/** The heat-map class of a rate from 0 to 1 (CSS gives each step a colour; no inline styles). */
export function heatClass(rate) {
  const step = Math.max(0, Math.min(10, Math.round((Number(rate) || 0) * 10)));
  return `heat heat-${step}`;
}
