// Settings (owners and admins): brand and mail-from, webhook secrets with each provider's
// ready-to-paste URL, the cancel-flow editor with a live preview of the real widget, key rotation.
import { api, call, showError, showNotice } from "../api.js";
import { h, clear, field, select, copyButton, confirmDialog } from "../dom.js";
import { CANCEL_REASONS, DEFAULT_OFFERS, dateTime, offerHeadline } from "../format.js";
import { secretKeyPanel } from "./projects.js";

const PROVIDERS = [
  ["stripe", "Stripe", "stripe_webhook_secret", "Signing secret of the endpoint (whsec_…), from Stripe's Developers → Webhooks."],
  ["razorpay", "Razorpay", "razorpay_webhook_secret", "The secret you typed when adding the webhook in Razorpay's dashboard."],
  ["custom", "Custom (Standard Webhooks)", "custom_webhook_secret", "whsec_<base64> or any string of 8+ characters; sign with webhook-id, webhook-timestamp, webhook-signature."],
];
const OFFER_TYPES = [["", "No offer"], ["discount", "Discount"], ["pause", "Pause"], ["downgrade", "Downgrade"]];

function section(id, title, ...content) {
  return h("section", { class: "card", id, "aria-labelledby": id + "-title" }, h("h2", { id: id + "-title" }, title), ...content);
}

function generalSection(project, ctx, messages, reload) {
  const s = project.settings || {};
  const name = h("input", { type: "text", name: "name", value: project.name, required: true, maxlength: 200 });
  const brand = h("input", { type: "text", name: "brand_name", value: s.brand_name || "", maxlength: 200 });
  const mailFrom = h("input", { type: "text", name: "mail_from", value: s.mail_from || "", placeholder: "Acme <hello@acme.com>" });
  const lost = h("input", { type: "number", name: "lost_after_days", min: 1, max: 3650, value: s.lost_after_days ?? 90, class: "short" });
  return section("general", "Brand and email", h("form", {
    class: "stack",
    async onsubmit(e) {
      e.preventDefault();
      try {
        await api.patch(api.project(ctx.slug), {
          name: name.value.trim(),
          settings: { brand_name: brand.value.trim() || null, mail_from: mailFrom.value.trim() || null, lost_after_days: Number(lost.value) },
        });
        await ctx.refreshMe();
        showNotice(messages, "Settings saved.");
        reload();
      } catch (error) {
        showError(messages, error);
      }
    },
  },
  field("Project name", name),
  field("Brand name", brand, "Signs the recovery emails and titles the cancel flow."),
  field("Mail from", mailFrom, "Sender of recovery emails, e.g. Acme <hello@acme.com>. Empty: the server's default."),
  field("Lost after (days)", lost, "A churn not recovered this long after it happened counts as lost."),
  h("button", { type: "submit", class: "button primary" }, "Save")));
}

function webhookSection(project, ctx, messages, reload) {
  const s = project.settings || {};
  return section("webhooks", "Webhooks", h("p", {}, "Paste a URL into the provider's webhook settings and save the signing secret here. ",
    "The URLs contain the public key; rotating it changes them."),
  PROVIDERS.map(([provider, label, key, hint]) => {
    // The server's own address for providers (WINDBACK_PUBLIC_URL), not this browser's origin.
    const url = project.webhook_urls[provider];
    const urlInput = h("input", { type: "text", readonly: true, value: url, class: "mono", "aria-label": `${label} webhook URL` });
    const secret = h("input", { type: "password", name: key, autocomplete: "off", placeholder: s[key] ? `set (${s[key]})` : "not set" });
    return h("form", {
      class: "webhook stack", dataset: { provider },
      async onsubmit(e) {
        e.preventDefault();
        const value = e.submitter && e.submitter.value === "clear" ? null : secret.value.trim();
        if (value === "") { showError(messages, { message: `Enter the ${label} signing secret first.` }); return; }
        try {
          await api.patch(api.project(ctx.slug), { settings: { [key]: value } });
          showNotice(messages, value ? `${label} secret saved.` : `${label} secret removed.`);
          reload();
        } catch (error) {
          showError(messages, error);
        }
      },
    }, h("h3", {}, label),
    h("div", { class: "key-row" }, urlInput, copyButton(url, "Copy URL", urlInput)),
    field("Signing secret", secret, hint),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "button", value: "save" }, "Save secret"),
      s[key] ? h("button", { type: "submit", class: "button danger", value: "clear" }, "Remove") : null));
  }));
}

function widgetSnippet(project) {
  const snippet = `<script src="${project.widget_url}" data-public-key="${project.public_key}"></script>\n` +
    "<script>\n  // when the customer clicks Cancel:\n  Windback.open({ customerEmail: user.email, customerId: user.id, onComplete: function (result) { /* ... */ } });\n</script>";
  const area = h("textarea", { readonly: true, rows: 5, class: "mono", "aria-label": "Widget snippet" }, snippet);
  return h("div", {}, h("h3", {}, "Add it to your cancel page"), area, copyButton(snippet, "Copy snippet", area));
}

/** The editor's state: the effective config (server defaults applied) overlaid with saved parts. */
function draftFrom(project, effective) {
  const saved = (project.settings || {}).cancel_flow || {};
  const labels = Object.fromEntries(CANCEL_REASONS);
  return {
    reasons: (effective && effective.reasons) || saved.reasons || CANCEL_REASONS.map(([code, label]) => ({ code, label })),
    offers: (effective && effective.offers) || saved.offers || DEFAULT_OFFERS,
    copy: { ...((effective && effective.copy) || {}), ...(saved.copy || {}) },
    theme: { accent_color: "#1f5f8b", ...((effective && effective.theme) || {}), ...(saved.theme || {}) },
    labels,
  };
}

function cancelFlowSection(project, ctx, messages, effective) {
  const draft = draftFrom(project, effective);
  const shown = new Map(draft.reasons.map((r) => [r.code, r.label]));
  const reasonRows = CANCEL_REASONS.map(([code, defaultLabel]) => {
    const on = h("input", { type: "checkbox", name: "reason-" + code, checked: shown.has(code), "aria-label": `Show ${defaultLabel}` });
    const label = h("input", { type: "text", name: "label-" + code, value: shown.get(code) || defaultLabel, "aria-label": `Label for ${defaultLabel}` });
    const offer = draft.offers[code] || {};
    const type = select("offer-" + code, OFFER_TYPES, offer.type || "", { "aria-label": `Offer for ${defaultLabel}` });
    const percentOff = h("input", { type: "number", min: 1, max: 100, value: offer.percent_off ?? 20, class: "tiny", "aria-label": "Percent off" });
    const months = h("input", { type: "number", min: 1, max: 24, value: offer.months ?? (offer.type === "pause" ? 1 : 3), class: "tiny", "aria-label": "Months" });
    const toPlan = h("input", { type: "text", value: offer.to_plan || "", class: "short", "aria-label": "Plan to downgrade to" });
    const price = h("input", { type: "number", min: 0, value: offer.price_cents ?? "", class: "short", "aria-label": "Price in cents" });
    const params = h("span", { class: "offer-params" });
    const drawParams = () => clear(params,
      type.value === "discount" ? [percentOff, " % off for ", months, " months"] : null,
      type.value === "pause" ? ["pause for ", months, " months"] : null,
      type.value === "downgrade" ? ["to ", toPlan, " at ", price, " cents"] : null);
    type.addEventListener("change", drawParams);
    drawParams();
    return { code, on, label, type, percentOff, months, toPlan, price,
      row: h("tr", {}, h("td", {}, on), h("td", {}, label), h("td", {}, type, " ", params)) };
  });
  const copyFields = [["title", "Title"], ["subtitle", "Subtitle"], ["confirm_label", "Confirm button"], ["keep_label", "Keep button"]]
    .map(([key, label]) => [key, h("input", { type: "text", name: "copy-" + key, value: draft.copy[key] || "" }), label]);
  const accent = h("input", { type: "color", name: "accent_color", value: draft.theme.accent_color || "#1f5f8b" });

  const savedOffers = ((project.settings || {}).cancel_flow || {}).offers || {};

  /** The cancel_flow to save. Offers merge over the server's defaults, so "No offer" is sent as
   * null; a headline someone wrote by hand is kept while the offer keeps its type. */
  function collect() {
    const reasons = reasonRows.filter((r) => r.on.checked).map((r) => ({ code: r.code, label: r.label.value.trim() || draft.labels[r.code] }));
    const offers = {};
    for (const r of reasonRows) {
      let offer = null;
      if (r.type.value === "discount") offer = { type: "discount", percent_off: Number(r.percentOff.value), months: Number(r.months.value) };
      else if (r.type.value === "pause") offer = { type: "pause", months: Number(r.months.value) };
      else if (r.type.value === "downgrade") {
        offer = { type: "downgrade", to_plan: r.toPlan.value.trim() };
        if (r.price.value !== "") offer.price_cents = Number(r.price.value);
      }
      const kept = savedOffers[r.code];
      if (offer && kept && kept.headline && kept.type === offer.type) offer.headline = kept.headline;
      offers[r.code] = offer;
    }
    const copy = { ...draft.copy };
    for (const [key, input] of copyFields) { if (input.value.trim()) copy[key] = input.value.trim(); else delete copy[key]; }
    return { reasons, offers, copy, theme: { ...draft.theme, accent_color: accent.value } };
  }

  // The live preview: the real /widget.js in a frame of its own, fed the unsaved draft.
  const frame = h("iframe", { class: "preview-frame", title: "Cancel-flow preview", src: "/app/widget-preview", id: "widget-preview" });
  const previewConfig = () => {
    // What GET /cancel-flow/config would answer once saved: offers of shown reasons, with headlines.
    const flow = collect();
    const shownCodes = new Set(flow.reasons.map((r) => r.code));
    const offers = {};
    for (const [code, offer] of Object.entries(flow.offers)) {
      if (offer && shownCodes.has(code)) offers[code] = { ...offer, headline: offer.headline || offerHeadline(offer) };
    }
    return {
      project: { name: project.name, brand_name: (project.settings || {}).brand_name || project.name },
      ...flow, offers, public_key: project.public_key,
    };
  };
  let previewShown = null; // the config the frame last got, as JSON
  window.addEventListener("message", (e) => {
    if (e.origin !== location.origin || e.source !== frame.contentWindow || !e.data || e.data.type !== "preview-ready") return;
    const config = previewConfig();
    previewShown = JSON.stringify(config);
    frame.contentWindow.postMessage({ type: "preview-config", config }, location.origin);
  });
  // Restart the preview once typing pauses, and only when what it shows would change (a text
  // field fires both input and change).
  let timer = null;
  const refreshPreview = () => {
    clearTimeout(timer);
    timer = setTimeout(() => { if (JSON.stringify(previewConfig()) !== previewShown) frame.src = "/app/widget-preview"; }, 400);
  };

  const form = h("form", {
    class: "stack cancel-flow",
    oninput: refreshPreview, onchange: refreshPreview,
    async onsubmit(e) {
      e.preventDefault();
      try {
        await api.patch(api.project(ctx.slug), { settings: { cancel_flow: collect() } });
        showNotice(messages, "Cancel flow saved; the widget shows it within a minute.");
      } catch (error) {
        showError(messages, error);
      }
    },
  },
  h("h3", {}, "Reasons and offers"),
  h("div", { class: "table-wrap" }, h("table", { class: "table compact" },
    h("thead", {}, h("tr", {}, ["Show", "Label", "Offer"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, reasonRows.map((r) => r.row)))),
  h("h3", {}, "Words and colour"),
  copyFields.map(([, input, label]) => field(label, input)),
  field("Accent colour", accent),
  h("button", { type: "submit", class: "button primary" }, "Save cancel flow"));

  return section("cancel-flow", "Cancel flow",
    h("div", { class: "cancel-flow-grid" }, form,
      h("div", { class: "preview" }, h("h3", {}, "Live preview"),
        h("p", { class: "muted small" }, "The real widget with your unsaved changes. Answers given here are not recorded."),
        frame, h("button", { type: "button", class: "button small", onclick: () => { frame.src = "/app/widget-preview"; } }, "Restart preview"))),
    widgetSnippet(project));
}

function keysSection(project, ctx, messages, reload) {
  const result = h("div");
  const grace = select("grace_seconds", [["0", "Stop the old keys at once"], ["3600", "Keep old keys working for 1 hour"],
    ["86400", "Keep old keys working for 24 hours"]], "3600");
  const rotatePublic = h("input", { type: "checkbox", name: "public_key", id: "rotate-public" });
  const form = h("form", {
    class: "stack",
    async onsubmit(e) {
      e.preventDefault();
      const ok = await confirmDialog({
        title: "Rotate the keys?",
        body: [h("p", {}, "A new secret key is made; the old one ", Number(grace.value) ? `keeps working for ${grace.value / 3600} hour(s).` : "stops working now."),
          rotatePublic.checked ? h("p", {}, "The public key changes too: update the widget snippet and every webhook URL.") : null],
        confirmLabel: "Rotate keys", danger: true,
      });
      if (!ok) return;
      try {
        const { data } = await api.post(api.project(ctx.slug) + "/rotate-keys", { grace_seconds: Number(grace.value), public_key: rotatePublic.checked });
        clear(result, secretKeyPanel(data.secret_key, data.public_key,
          data.previous_keys_expire_at ? h("p", {}, `The previous keys stop working ${dateTime(data.previous_keys_expire_at)}.`) : null));
        messages.replaceChildren();
      } catch (error) {
        showError(messages, error);
      }
    },
  },
  h("p", {}, "Public key: ", h("code", { class: "mono", id: "public-key" }, project.public_key)),
  field("Grace period", grace),
  h("div", { class: "check" }, rotatePublic, h("label", { for: "rotate-public" }, "Also rotate the public key (changes webhook URLs and the widget snippet)")),
  h("button", { type: "submit", class: "button danger" }, "Rotate keys"));
  return section("keys", "API keys", result, form);
}

export async function page(main, ctx) {
  document.title = `Settings · ${ctx.membership.name} · Windback`;
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  const body = h("div", {}, h("p", { class: "loading", role: "status" }, "Loading settings…"));
  main.append(h("h1", {}, "Settings"), messages, body);

  async function reload() {
    let project;
    try {
      project = (await api.get(api.project(ctx.slug))).data;
    } catch (error) {
      if (ctx.isCurrent()) showError(messages, error);
      return;
    }
    let effective = null;
    try {
      effective = (await call("GET", "/cancel-flow/config/" + encodeURIComponent(project.public_key), { auth: false })).data;
    } catch { effective = null; }
    if (!ctx.isCurrent()) return;
    clear(body, generalSection(project, ctx, messages, reload), webhookSection(project, ctx, messages, reload),
      cancelFlowSection(project, ctx, messages, effective), keysSection(project, ctx, messages, reload));
  }
  await reload();
}
