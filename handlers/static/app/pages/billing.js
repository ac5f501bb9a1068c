// Billing in the dashboard: connecting Stripe or Razorpay (Settings), the identity secret that
// signs customer ids for the widget, and the actions Windback took for a customer (event page).
import { api, showError, showNotice, errorBanner } from "../api.js";
import { h, clear, field, select, copyButton } from "../dom.js";
import { dateTime } from "../format.js";

const KEY_FIELDS = {
  stripe: [["stripe_api_key", "Secret or restricted key", "sk_… or rk_… from Stripe's Developers → API keys. A restricted key needs write access to Subscriptions and Coupons."]],
  razorpay: [["razorpay_key_id", "Key id", "rzp_… from Razorpay's Settings → API Keys."],
    ["razorpay_key_secret", "Key secret", "Shown once by Razorpay when the key was made."]],
};

export function billingSection(project, ctx, messages, reload) {
  const billing = (project.settings || {}).billing || {};
  const provider = select("provider", [["stripe", "Stripe"], ["razorpay", "Razorpay"]], billing.provider || "stripe");
  const keys = h("div", { class: "stack" });
  const cooldown = h("input", { type: "number", name: "offer_cooldown_days", min: 0, max: 3650, class: "short",
    value: billing.offer_cooldown_days ?? 365 });
  const testResult = h("p", { class: "billing-test", role: "status" });
  const inputs = {};
  function drawKeys() {
    clear(keys, ...KEY_FIELDS[provider.value].map(([name, label, hint]) => {
      const shown = billing.provider === provider.value && billing[name];
      inputs[name] = h("input", { type: "password", name, autocomplete: "off", placeholder: shown ? `set (${shown})` : "not set" });
      return field(label, inputs[name], hint);
    }));
  }
  provider.addEventListener("change", drawKeys);
  drawKeys();
  const form = h("form", {
    class: "stack",
    async onsubmit(e) {
      e.preventDefault();
      const patch = { provider: provider.value, offer_cooldown_days: Number(cooldown.value) };
      for (const [name] of KEY_FIELDS[provider.value]) if (inputs[name].value.trim()) patch[name] = inputs[name].value.trim();
      if (billing.provider === provider.value && Object.keys(patch).length === 2) delete patch.provider;
      try {
        await api.patch(api.project(ctx.slug), { settings: { billing: patch } });
        showNotice(messages, "Billing settings saved.");
        reload();
      } catch (error) {
        showError(messages, error);
      }
    },
  },
  h("p", {}, billing.connected ? `Connected to ${billing.provider === "stripe" ? "Stripe" : "Razorpay"} since ${dateTime(billing.connected_at)}.`
    : "Not connected: accepted offers are only recorded, and your own page applies them."),
  field("Provider", provider), keys,
  field("One offer per customer every (days)", cooldown, "An applied offer blocks another for the same customer, in the widget and in emails, this long."),
  h("div", { class: "actions" },
    h("button", { type: "submit", class: "button primary" }, "Save billing"),
    billing.connected ? h("button", { type: "button", class: "button", async onclick() {
      testResult.textContent = "Testing…";
      try {
        const { data } = await api.post(api.project(ctx.slug) + "/billing/test", {});
        testResult.textContent = data.ok ? `✓ ${data.message}` : `✗ ${data.message}`;
        testResult.className = "billing-test " + (data.ok ? "ok" : "failed");
      } catch (error) {
        testResult.textContent = "";
        showError(messages, error);
      }
    } }, "Test connection") : null),
  testResult);
  return h("section", { class: "card", id: "billing", "aria-labelledby": "billing-title" },
    h("h2", { id: "billing-title" }, "Billing (offers that act)"), form, identityPanel(project));
}

function identityPanel(project) {
  if (!project.identity_secret) return null;
  const secret = h("input", { type: "text", readonly: true, class: "mono", value: project.identity_secret, "aria-label": "Identity secret" });
  return h("div", { class: "stack" }, h("h3", {}, "Identity secret"),
    h("p", {}, "Your server signs each customer id with it, and the widget passes the signature as authHash: ",
      h("code", {}, "hex(HMAC-SHA256(identity_secret, customer_id))"), ". Keep it on your server. Rotate it under API keys."),
    h("div", { class: "key-row" }, secret, copyButton(project.identity_secret, "Copy secret", secret)));
}

/** The billing actions taken for this event's customer (loaded into `slot`). */
export async function billingActionsSection(slug, event) {
  const section = h("section", { class: "card", id: "billing-actions", "aria-labelledby": "billing-actions-title" },
    h("h2", { id: "billing-actions-title" }, "Billing actions"));
  if (!event.customer_id) return section.append(h("p", { class: "muted" }, "No customer id: Windback cannot act in billing for this customer.")), section;
  try {
    const { data } = await api.get(api.project(slug) + "/billing-actions", { customer_id: event.customer_id, per_page: 100 });
    if (!data.length) section.append(h("p", { class: "empty" }, "No billing action for this customer."));
    else section.append(h("table", { class: "table" },
      h("thead", {}, h("tr", {}, ["When", "Offer", "Channel", "Status", "Provider object", "Error"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, data.map((a) => h("tr", { dataset: { action: a.id } },
        h("td", {}, dateTime(a.created_at)), h("td", {}, `${a.kind} (${a.provider})`), h("td", {}, a.channel),
        h("td", {}, h("span", { class: `badge status-${a.status}` }, a.status)),
        h("td", { class: "mono" }, a.provider_object_id || "—"), h("td", {}, a.error || "—"))))));
  } catch (error) {
    section.append(errorBanner(error));
  }
  return section;
}
