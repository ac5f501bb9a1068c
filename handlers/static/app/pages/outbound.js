// Settings → Outbound webhooks: the project's endpoints (add, enable/disable, delete, send a test
// event) and each one's recent deliveries with status and the last answer, with Retry.
import { api, showError, showNotice } from "../api.js";
import { h, clear, field, select, copyButton, confirmDialog } from "../dom.js";
import { dateTime } from "../format.js";

const EVENT_TYPES = ["churn_event.created", "churn_event.recovered", "churn_event.saved", "churn_event.lost",
  "variant.sent", "cancel_flow.submitted", "payment_recovery.opened", "payment_recovery.recovered",
  "payment_recovery.failed", "billing_action.applied", "billing_action.failed", "customer.at_risk"];

function deliveriesTable(rows, retry) {
  if (!rows.length) return h("p", { class: "muted small" }, "No deliveries yet.");
  return h("div", { class: "table-wrap" }, h("table", { class: "table compact deliveries" },
    h("thead", {}, h("tr", {}, ["When", "Event", "Status", "Attempts", "Last answer", ""].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((d) => h("tr", { dataset: { delivery: d.id, status: d.status } },
      h("td", {}, dateTime(d.created_at)),
      h("td", {}, h("code", {}, d.event_type)),
      h("td", {}, h("span", { class: "badge status-" + d.status }, d.status),
        d.status === "pending" && d.next_attempt_at ? h("span", { class: "muted small" }, ` next ${dateTime(d.next_attempt_at)}`) : null),
      h("td", {}, String(d.attempts)),
      h("td", { class: "small" }, d.last_status_code ? `${d.last_status_code} ` : "", d.last_error || "",
        d.last_response ? h("div", { class: "muted mono" }, d.last_response.slice(0, 200)) : null),
      h("td", {}, d.status !== "pending" || d.attempts ? h("button", { type: "button", class: "button small", onclick: () => retry(d) }, "Retry") : null))))));
}

function endpointCard(slug, endpoint, messages, reload) {
  const base = api.project(slug) + "/webhook-endpoints/" + encodeURIComponent(endpoint.id);
  const deliveries = h("div", {}, h("p", { class: "loading small" }, "Loading deliveries…"));
  async function showDeliveries() {
    try {
      const { data } = await api.get(base + "/deliveries", { per_page: 10 });
      clear(deliveries, deliveriesTable(data, async (d) => {
        try {
          await api.post(base + "/deliveries/" + encodeURIComponent(d.id) + "/retry");
          showNotice(messages, "Delivery queued again.");
          setTimeout(showDeliveries, 1500);
        } catch (error) { showError(messages, error); }
      }));
    } catch (error) { showError(messages, error); }
  }
  async function act(fn, notice) {
    try { await fn(); showNotice(messages, notice); reload(); } catch (error) { showError(messages, error); }
  }
  showDeliveries();
  return h("article", { class: "card endpoint", dataset: { endpoint: endpoint.id } },
    h("h3", {}, h("code", { class: "mono" }, endpoint.url)),
    h("p", { class: "small" }, `${endpoint.kind === "slack" ? "Slack" : "Signed JSON (Standard Webhooks)"} · `,
      endpoint.events.includes("*") ? "all events" : endpoint.events.join(", "),
      endpoint.min_mrr_cents ? ` · MRR at least ${(endpoint.min_mrr_cents / 100).toFixed(2)}` : "",
      endpoint.description ? ` · ${endpoint.description}` : "",
      endpoint.kind === "standard" ? h("span", { class: "muted" }, ` · secret ${endpoint.secret}`) : null),
    endpoint.enabled ? null : h("div", { class: "banner warning" }, endpoint.disabled_reason || "Disabled."),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "button small", onclick: () => act(() => api.post(base + "/test"), "Test event queued; it appears below within a few seconds.").then(() => setTimeout(showDeliveries, 1500)) }, "Send test event"),
      h("button", { type: "button", class: "button small", onclick: () => act(() => api.patch(base, { enabled: !endpoint.enabled }), endpoint.enabled ? "Endpoint disabled." : "Endpoint enabled.") },
        endpoint.enabled ? "Disable" : "Enable"),
      h("button", { type: "button", class: "button small danger", async onclick() {
        const ok = await confirmDialog({ title: "Delete this endpoint?", body: [h("p", {}, endpoint.url, " stops receiving events; its delivery history is deleted.")], confirmLabel: "Delete", danger: true });
        if (ok) act(() => api.del(base), "Endpoint deleted.");
      } }, "Delete")),
    h("h4", {}, "Recent deliveries"), deliveries);
}

function addForm(slug, messages, reload, revealed) {
  const url = h("input", { type: "url", name: "url", required: true, placeholder: "https://example.com/windback-events", class: "mono" });
  const kind = select("kind", [["standard", "Signed JSON (Standard Webhooks)"], ["slack", "Slack incoming webhook"]], "standard");
  const all = h("input", { type: "checkbox", name: "all-events", checked: true, id: "all-events" });
  const boxes = EVENT_TYPES.map((type) => [type, h("input", { type: "checkbox", name: "event-" + type, id: "event-" + type })]);
  const minMrr = h("input", { type: "number", name: "min_mrr_cents", min: 0, class: "short", placeholder: "0" });
  const description = h("input", { type: "text", name: "description", maxlength: 500 });
  return h("form", {
    class: "stack add-endpoint",
    async onsubmit(e) {
      e.preventDefault();
      const events = all.checked ? ["*"] : boxes.filter(([, box]) => box.checked).map(([type]) => type);
      const body = { url: url.value.trim(), kind: kind.value, events, description: description.value.trim() || null };
      if (minMrr.value !== "") body.min_mrr_cents = Number(minMrr.value);
      try {
        const { data } = await api.post(api.project(slug) + "/webhook-endpoints", body);
        reload(data);
      } catch (error) { showError(messages, error); }
    },
  },
  h("h3", {}, "Add an endpoint"),
  field("URL", url, "https:// only; the host must be on the public internet."),
  field("Kind", kind),
  h("div", { class: "check" }, all, h("label", { for: "all-events" }, "All events")),
  h("div", { class: "event-types" }, boxes.map(([type, box]) => h("div", { class: "check" }, box, h("label", { for: box.id }, type)))),
  field("Minimum MRR (cents)", minMrr, "Only events about at least this much MRR or amount due, e.g. for a Slack alert about big accounts."),
  field("Description", description),
  h("button", { type: "submit", class: "button primary" }, "Add endpoint"), revealed);
}

function secretPanel(endpoint) {
  if (!endpoint || endpoint.kind !== "standard") return null;
  const input = h("input", { type: "text", readonly: true, value: endpoint.secret, class: "mono", id: "endpoint-secret", "aria-label": "Signing secret" });
  return h("div", { class: "banner warning", role: "alert" },
    h("strong", {}, "Copy the signing secret now: it is shown only this once. "),
    "Your receiver verifies each delivery with it (see the docs).",
    h("div", { class: "key-row" }, input, copyButton(endpoint.secret, "Copy secret", input)));
}

/** The section, filled in once the endpoints are loaded. */
export function outboundSection(ctx) {
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  const list = h("div", { class: "endpoints" });
  const section = h("section", { class: "card", id: "outbound-webhooks", "aria-labelledby": "outbound-webhooks-title" },
    h("h2", { id: "outbound-webhooks-title" }, "Outbound webhooks"),
    h("p", {}, "Tell your other systems, or a Slack channel, when a customer churns, is saved or comes back."), messages, list);
  async function reload(created) {
    try {
      const { data } = await api.get(api.project(ctx.slug) + "/webhook-endpoints", { per_page: 100 });
      if (!ctx.isCurrent()) return;
      clear(list, data.map((endpoint) => endpointCard(ctx.slug, endpoint, messages, reload)),
        addForm(ctx.slug, messages, reload, secretPanel(created)));
      if (created) showNotice(messages, "Endpoint added.");
    } catch (error) { showError(messages, error); }
  }
  reload();
  return section;
}
