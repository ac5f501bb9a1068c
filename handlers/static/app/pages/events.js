// Churn events: the API's filters, sorting and pagination, all kept in the URL so a view can be
// shared or reloaded.
import { api, showError } from "../api.js";
import { h, clear, field, select } from "../dom.js";
import { CANCEL_REASONS, STATUSES, SOURCES, money, dateTime, reasonLabel, statusLabel } from "../format.js";

const FILTERS = ["status", "source", "cancel_reason", "customer_email", "customer_id", "created_after", "created_before"];
const COLUMNS = [
  ["customer_email", "Customer"], [null, "Reason"], ["mrr_cents", "MRR"], ["status", "Status"],
  [null, "Source"], ["churned_at", "Churned"], ["created_at", "Created"],
];
const PER_PAGE = [10, 20, 50, 100];

function apiParams(query) {
  const params = {};
  for (const name of FILTERS) {
    const value = query.get(name);
    if (!value) continue;
    // Date inputs give days; the API takes ISO 8601 instants.
    if (name === "created_after" && /^\d{4}-\d{2}-\d{2}$/.test(value)) params[name] = `${value}T00:00:00Z`;
    else if (name === "created_before" && /^\d{4}-\d{2}-\d{2}$/.test(value)) params[name] = `${value}T23:59:59Z`;
    else params[name] = value;
  }
  for (const name of ["sort", "order", "page", "per_page"]) if (query.get(name)) params[name] = query.get(name);
  return params;
}

export async function page(main, ctx) {
  const { slug, query } = ctx;
  const here = `/app/projects/${encodeURIComponent(slug)}/events`;
  document.title = `Churn events · ${ctx.membership.name} · Windback`;
  const go = (changes, { keepPage = false } = {}) => {
    const q = new URLSearchParams(query);
    for (const [k, v] of Object.entries(changes)) { if (v === "" || v == null) q.delete(k); else q.set(k, String(v)); }
    if (!keepPage && !("page" in changes)) q.delete("page");
    ctx.navigate(here + (q.toString() ? "?" + q : ""));
  };

  const controls = {
    status: select("status", [["", "Any status"], ...STATUSES.map((s) => [s, statusLabel(s)])], query.get("status")),
    cancel_reason: select("cancel_reason", [["", "Any reason"], ...CANCEL_REASONS], query.get("cancel_reason")),
    source: select("source", [["", "Any source"], ...SOURCES.map((s) => [s, s])], query.get("source")),
    customer_email: h("input", { type: "search", name: "customer_email", value: query.get("customer_email") || "", placeholder: "exact address" }),
    customer_id: h("input", { type: "search", name: "customer_id", value: query.get("customer_id") || "" }),
    created_after: h("input", { type: "date", name: "created_after", value: query.get("created_after") || "" }),
    created_before: h("input", { type: "date", name: "created_before", value: query.get("created_before") || "" }),
  };
  const filters = h("form", {
    class: "filters card", "aria-label": "Filters",
    onsubmit(e) {
      e.preventDefault();
      go(Object.fromEntries(FILTERS.map((name) => [name, controls[name].value.trim()])));
    },
  },
  field("Status", controls.status), field("Reason", controls.cancel_reason), field("Source", controls.source),
  field("Customer email", controls.customer_email), field("Customer id", controls.customer_id),
  field("Created after", controls.created_after), field("Created before", controls.created_before),
  h("div", { class: "actions" },
    h("button", { type: "submit", class: "button primary" }, "Apply filters"),
    h("a", { class: "button", href: here }, "Clear")));
  // Selects apply at once; text fields on submit.
  for (const name of ["status", "cancel_reason", "source"]) controls[name].addEventListener("change", () => filters.requestSubmit());

  const tableSlot = h("div", { class: "table-slot" }, h("p", { class: "loading", role: "status" }, "Loading churn events…"));
  // On a phone the filters fold away unless some are in use.
  const active = FILTERS.filter((f) => query.get(f)).length;
  const filterBox = h("details", { class: "filter-box", open: active > 0 || window.matchMedia("(min-width: 821px)").matches },
    h("summary", {}, active ? `Filters (${active} in use)` : "Filters"), filters);
  main.append(h("h1", {}, "Churn events"), filterBox, tableSlot);

  let result;
  try {
    result = await api.get(api.project(slug) + "/churn-events", apiParams(query));
  } catch (error) {
    if (ctx.isCurrent()) showError(tableSlot, error);
    return;
  }
  if (!ctx.isCurrent()) return;
  const { data, meta } = result;
  const sort = query.get("sort") || "created_at";
  const order = query.get("order") || "desc";
  if (!data.length) {
    const filtered = FILTERS.some((f) => query.get(f));
    clear(tableSlot, h("div", { class: "empty card" }, h("p", {}, filtered
      ? "No churn events match these filters."
      : "No churn events yet. They arrive from the API, the Stripe, Razorpay or custom webhooks, and the cancel-flow widget.")));
    return;
  }
  const header = COLUMNS.map(([key, label]) => {
    if (!key) return h("th", { scope: "col" }, label);
    const active = sort === key;
    const next = active && order === "desc" ? "asc" : "desc";
    return h("th", { scope: "col", "aria-sort": active ? (order === "asc" ? "ascending" : "descending") : "none" },
      h("button", { type: "button", class: "sort", onclick: () => go({ sort: key, order: next }) },
        label, h("span", { "aria-hidden": "true", class: "sort-mark" }, active ? (order === "asc" ? " ▲" : " ▼") : " ↕"),
        h("span", { class: "sr-only" }, active ? `, sorted ${order === "asc" ? "ascending" : "descending"}` : ", sortable")));
  });
  const rows = data.map((e) => {
    const href = `${here}/${encodeURIComponent(e.id)}`;
    return h("tr", { dataset: { eventId: e.id } },
      h("td", {}, h("a", { href, class: "customer" },
        h("span", { class: "customer-name" }, e.customer_name || e.customer_email || e.customer_id || "(unknown customer)")),
      e.customer_name && e.customer_email ? h("span", { class: "muted block" }, e.customer_email) : null),
      h("td", {}, reasonLabel(e.cancel_reason)),
      h("td", { class: "num" }, money(e.mrr_cents, e.currency)),
      h("td", {}, h("span", { class: `badge status-${e.status}` }, statusLabel(e.status))),
      h("td", {}, e.source),
      h("td", {}, dateTime(e.churned_at)),
      h("td", {}, dateTime(e.created_at)));
  });
  const pageNo = meta ? meta.page : 1;
  const perPage = meta ? meta.per_page : data.length;
  const total = meta ? meta.total : data.length;
  const pages = Math.max(1, Math.ceil(total / perPage));
  const pager = h("nav", { class: "pager", "aria-label": "Pages" },
    h("span", {}, `${(pageNo - 1) * perPage + 1}–${(pageNo - 1) * perPage + data.length} of ${total}`),
    h("button", { type: "button", class: "button small", disabled: pageNo <= 1, onclick: () => go({ page: pageNo - 1 }) }, "Previous"),
    h("span", { "aria-current": "page" }, `Page ${pageNo} of ${pages}`),
    h("button", { type: "button", class: "button small", disabled: pageNo >= pages, onclick: () => go({ page: pageNo + 1 }) }, "Next"),
    field("Per page", select("per_page", PER_PAGE.map((n) => [n, String(n)]), perPage, {
      onchange: (e) => go({ per_page: e.target.value }),
    })));
  clear(tableSlot, h("div", { class: "table-wrap" }, h("table", { class: "table events", id: "events-table" },
    h("thead", {}, h("tr", {}, header)), h("tbody", {}, rows))), pager);
}
