// Formatting of the API's values: money in minor units per currency, ISO timestamps, rates.

export const CANCEL_REASONS = [
  ["too_expensive", "Too expensive"], ["missing_features", "Missing features"],
  ["switched_competitor", "Switched to a competitor"], ["not_using", "Not using it"],
  ["technical_issues", "Technical issues"], ["poor_support", "Poor support"],
  ["temporary", "Temporary"], ["payment_failed", "Payment failed"], ["other", "Other"],
];
export const STATUSES = ["new", "variants_ready", "contacted", "recovered", "lost", "saved"];
export const SOURCES = ["api", "stripe", "razorpay", "custom", "widget"];
export const STRATEGIES = [["discount_offer", "Discount offer"], ["value_reminder", "Value reminder"],
  ["personal_check_in", "Personal check-in"]];
export const TONES = [["friendly", "Friendly"], ["professional", "Professional"], ["urgent", "Urgent"]];

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
