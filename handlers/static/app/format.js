// Formatting of the API's values: money in minor units per currency, ISO timestamps, rates.

// The server's enumerations, handed to the page by handlers/dashboard.py: never a copy here.
const ENUMS = JSON.parse(document.getElementById("windback-enums")?.textContent || "{}");
export const CANCEL_REASONS = ENUMS.cancel_reasons || []; // [[code, label]]
export const STATUSES = ENUMS.churn_statuses || [];
export const SOURCES = ENUMS.sources || [];
export const STRATEGIES = ENUMS.strategies || []; // [[code, label]]
export const TONES = ENUMS.tones || []; // [[code, label]]
export const DEFAULT_OFFERS = ENUMS.default_offers || {};

const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));

/** The headline the server gives an offer without one (store/offers.py, from its templates). */
export function offerHeadline(offer) {
  const months = offer.months || 1;
  const values = { ...offer, s: months > 1 ? "s" : "",
    price: offer.price_cents != null ? fill(ENUMS.offer_price_suffix, { amount: (offer.price_cents / 100).toFixed(2) }) : "" };
  return fill((ENUMS.offer_headlines || {})[offer.type] || "", values);
}

const reasonLabels = Object.fromEntries(CANCEL_REASONS);
export const reasonLabel = (code) => (code ? reasonLabels[code] || code : "—");
export const statusLabel = (s) => (s ? s.replace(/_/g, " ") : "—");

/** Amounts come as integer minor units, either one number or {currency: cents}. */
export function moneyMap(value, currency = "USD") {
  if (value === null || value === undefined) return {};
  if (typeof value === "number") return { [currency]: value };
  if (typeof value === "object") return { ...value };
  return {};
}

export function money(cents, currency = "USD") {
  const amount = (Number(cents) || 0) / 100;
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency, maximumFractionDigits: amount % 1 ? 2 : 0 })
      .format(amount);
  } catch {
    return `${amount.toFixed(2)} ${currency}`;
  }
}

/** "$1,200 · €300" for a per-currency map; "$0" when empty. */
export function moneyText(value, currency = "USD") {
  const map = moneyMap(value, currency);
  const entries = Object.entries(map);
  if (!entries.length) return money(0, currency);
  return entries.map(([cur, cents]) => money(cents, cur)).join(" · ");
}

export function percent(rate) {
  const n = Number(rate) || 0;
  return `${(n * 100).toFixed(n > 0 && n < 0.1 ? 1 : 0)}%`;
}

export function dateTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function date(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleDateString(undefined, { dateStyle: "medium" });
}

export function monthLabel(yyyyMm) {
  const [y, m] = String(yyyyMm).split("-").map(Number);
  if (!y || !m) return String(yyyyMm);
  return new Date(Date.UTC(y, m - 1, 1)).toLocaleDateString(undefined, { month: "short", year: "2-digit", timeZone: "UTC" });
}
