/*! Windback cancel-flow widget. No dependencies. Embed:
 *   <script src="https://YOUR-WINDBACK/widget.js" data-public-key="pub_live_..."></script>
 * then call Windback.open({customerEmail, customerId, authHash, onComplete}) or give a button the
 * attribute data-windback-cancel (with data-customer-email / data-customer-id / data-auth-hash).
 * docs/widget.md, docs/offers.md
 */
(function () {
  "use strict";
  if (window.Windback && window.Windback.version) return; // embedded twice: keep the first

  var script = document.currentScript;
  var apiBase = script ? (script.getAttribute("data-api-base") || new URL(script.src, location.href).origin) : "";
  var defaultKey = script ? script.getAttribute("data-public-key") : null;
  var configs = {}; // public key -> Promise of the config
  var current = null; // the open dialog, if any
  var FOCUSABLE = "button:not([disabled]), textarea:not([disabled]), input:not([disabled]), select:not([disabled]), a[href], [tabindex]:not([tabindex='-1'])";

  var CSS = [
    ".wb-backdrop{position:fixed;inset:0;background:rgba(17,24,39,.55);display:flex;align-items:center;justify-content:center;padding:16px;z-index:2147483000;box-sizing:border-box}",
    ".wb-dialog{box-sizing:border-box;position:relative;width:100%;max-width:480px;max-height:calc(100vh - 32px);overflow:auto;background:var(--wb-bg);color:var(--wb-text);border-radius:var(--wb-radius);padding:24px;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;box-shadow:0 20px 50px rgba(0,0,0,.3);text-align:left}",
    ".wb-dialog *{box-sizing:border-box}",
    ".wb-title{font-size:20px;font-weight:650;margin:0 40px 4px 0;line-height:1.3}",
    ".wb-sub{margin:0 0 16px;opacity:.85}",
    ".wb-reasons{display:flex;flex-direction:column;gap:8px;margin:0;padding:0;list-style:none}",
    ".wb-reason{width:100%;text-align:left;padding:12px 14px;min-height:44px;border:1px solid rgba(127,127,127,.45);border-radius:8px;background:transparent;color:inherit;font:inherit;cursor:pointer}",
    ".wb-reason:hover{border-color:var(--wb-accent)}",
    ".wb-dialog button:focus-visible,.wb-dialog textarea:focus-visible{outline:3px solid var(--wb-accent);outline-offset:2px}",
    ".wb-chosen{margin:0 0 12px;font-weight:600}",
    ".wb-label{display:block;font-weight:600;margin:0 0 6px}",
    ".wb-detail{display:block;width:100%;min-height:80px;padding:10px;border:1px solid rgba(127,127,127,.55);border-radius:8px;font:inherit;color:inherit;background:transparent;resize:vertical}",
    ".wb-offer{border:2px solid var(--wb-accent);border-radius:var(--wb-radius);padding:14px 16px;margin:16px 0 0}",
    ".wb-offer-title{font-weight:650;margin:0 0 4px}",
    ".wb-offer-text{margin:0}",
    ".wb-actions{display:flex;flex-wrap:wrap;gap:8px;justify-content:flex-end;margin-top:20px}",
    ".wb-btn{font:inherit;padding:10px 16px;min-height:44px;border-radius:8px;border:1px solid rgba(127,127,127,.55);background:transparent;color:inherit;cursor:pointer}",
    ".wb-btn[disabled]{opacity:.6;cursor:progress}",
    ".wb-primary{background:var(--wb-accent);border-color:var(--wb-accent);color:#fff}",
    ".wb-close{position:absolute;top:12px;right:12px;width:40px;height:40px;border:0;border-radius:8px;background:transparent;color:inherit;font-size:24px;line-height:1;cursor:pointer}",
    ".wb-error{color:#b91c1c;margin:12px 0 0}",
    ".wb-applied{font-weight:650;margin:0 0 12px}",
    ".wb-error:empty{display:none}",
    "@media (max-width:480px){.wb-backdrop{padding:0;align-items:flex-end}.wb-dialog{max-height:100vh;border-radius:var(--wb-radius) var(--wb-radius) 0 0;padding:20px 16px}.wb-actions{flex-direction:column-reverse}.wb-btn{width:100%}}"
  ].join("\n");

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (name === "onclick") node.addEventListener("click", attrs[name]);
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function injectStyle() {
    if (document.getElementById("windback-style")) return;
    document.head.appendChild(el("style", {id: "windback-style", text: CSS}));
  }

  function loadConfig(key) {
    if (!configs[key]) {
      configs[key] = fetch(apiBase + "/api/v1/cancel-flow/config/" + encodeURIComponent(key), {credentials: "omit"})
        .then(function (response) {
          if (!response.ok) throw new Error("Windback: the cancel-flow config could not be loaded (HTTP " + response.status + ")");
          return response.json();
        })
        .then(function (body) { return body.data; });
      configs[key].catch(function () { delete configs[key]; }); // a failure is retried next time
    }
    return configs[key];
  }

  function postAnswer(answer) {
    return fetch(apiBase + "/api/v1/cancel-flow/reasons", {
      method: "POST", credentials: "omit",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(answer)
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          var error = new Error((body.error && body.error.message) || ("HTTP " + response.status));
          error.code = body.error && body.error.code;
          throw error;
        }
        return body.data;
      });
    });
  }

  function Dialog(config, options, resolve) {
    var self = this;
    var copy = config.copy, theme = config.theme;
    this.options = options;
    this.resolve = resolve;
    this.opener = document.activeElement;
    this.submitted = null;
    this.titleId = "wb-title-" + Math.random().toString(36).slice(2);
    this.subId = this.titleId + "-sub";
    this.close = function () { self.finish(); };

    this.closeButton = el("button", {type: "button", "class": "wb-close", "aria-label": copy.close_label, text: "\u00d7", onclick: this.close});
    this.title = el("h2", {id: this.titleId, "class": "wb-title", text: copy.title});
    this.sub = el("p", {id: this.subId, "class": "wb-sub", text: copy.subtitle});
    this.content = el("div");
    this.error = el("p", {"class": "wb-error", role: "alert"});
    this.dialog = el("div", {role: "dialog", "aria-modal": "true", "aria-labelledby": this.titleId,
                             "aria-describedby": this.subId, "class": "wb-dialog", tabindex: "-1"},
                     [this.closeButton, this.title, this.sub, this.content, this.error]);
    this.dialog.style.setProperty("--wb-accent", theme.accent_color);
    this.dialog.style.setProperty("--wb-bg", theme.background_color);
    this.dialog.style.setProperty("--wb-text", theme.text_color);
    this.dialog.style.setProperty("--wb-radius", theme.border_radius + "px");
    this.backdrop = el("div", {"class": "wb-backdrop", "data-windback-dialog": ""}, [this.dialog]);
    this.backdrop.addEventListener("mousedown", function (event) { if (event.target === self.backdrop) self.finish(); });
    this.onKey = function (event) { self.handleKey(event); };
    this.onFocusIn = function (event) {
      if (!self.dialog.contains(event.target)) self.focusFirst();
    };
    this.config = config;
  }

  Dialog.prototype.show = function () {
    injectStyle();
    this.bodyOverflow = document.body.style.overflow;
    document.body.style.overflow = "hidden";
    document.body.appendChild(this.backdrop);
    document.addEventListener("keydown", this.onKey, true);
    document.addEventListener("focusin", this.onFocusIn);
    this.showReasons();
  };

  Dialog.prototype.controls = function () {
    return Array.prototype.filter.call(this.dialog.querySelectorAll(FOCUSABLE), function (node) {
      return node.offsetParent !== null || node === document.activeElement;
    });
  };

  Dialog.prototype.focusFirst = function () {
    var controls = this.controls();
    (controls[1] || controls[0] || this.dialog).focus(); // [0] is the close button
  };

  Dialog.prototype.handleKey = function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      this.finish();
      return;
    }
    if (event.key !== "Tab") return;
    var controls = this.controls();
    if (!controls.length) { event.preventDefault(); return; }
    var first = controls[0], last = controls[controls.length - 1];
    var active = document.activeElement;
    if (event.shiftKey && (active === first || !this.dialog.contains(active) || active === this.dialog)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !this.dialog.contains(active))) {
      event.preventDefault();
      first.focus();
    }
  };

  Dialog.prototype.setContent = function (nodes, focus) {
    this.content.textContent = "";
    this.error.textContent = "";
    var content = this.content;
    nodes.forEach(function (node) { if (node) content.appendChild(node); });
    (focus || this.dialog).focus();
  };

  Dialog.prototype.showReasons = function () {
    var self = this, copy = this.config.copy;
    this.sub.textContent = copy.subtitle;
    var buttons = this.config.reasons.map(function (reason) {
      return el("li", {}, [el("button", {type: "button", "class": "wb-reason", "data-reason": reason.code,
                                         text: reason.label, onclick: function () { self.showAnswer(reason); }})]);
    });
    var list = el("ul", {"class": "wb-reasons", "aria-labelledby": this.subId}, buttons);
    var keep = el("button", {type: "button", "class": "wb-btn", "data-action": "keep", text: copy.keep_label, onclick: this.close});
    this.setContent([list, el("div", {"class": "wb-actions"}, [keep])], list.querySelector("button"));
  };

  Dialog.prototype.showAnswer = function (reason) {
    var self = this, copy = this.config.copy;
    var offer = this.config.offers[reason.code] || null;
    var detailId = this.titleId + "-detail";
    this.sub.textContent = copy.subtitle;
    var chosen = el("p", {"class": "wb-chosen", text: reason.label});
    var label = el("label", {"for": detailId, "class": "wb-label", text: copy.detail_label});
    var detail = el("textarea", {id: detailId, "class": "wb-detail", maxlength: "5000", rows: "3"});
    var offerBox = offer && el("section", {"class": "wb-offer", "aria-label": copy.offer_title}, [
      el("p", {"class": "wb-offer-title", text: copy.offer_title}),
      el("p", {"class": "wb-offer-text", text: offer.headline})
    ]);
    function answer(accepted) {
      return function () { self.submit(reason, detail.value, offer, accepted); };
    }
    var back = el("button", {type: "button", "class": "wb-btn", "data-action": "back", text: copy.back_label,
                             onclick: function () { self.showReasons(); }});
    var actions = offer
      ? [back, el("button", {type: "button", "class": "wb-btn", "data-action": "decline", text: copy.decline_label, onclick: answer(false)}),
         el("button", {type: "button", "class": "wb-btn wb-primary", "data-action": "accept", text: copy.accept_label, onclick: answer(true)})]
      : [back, el("button", {type: "button", "class": "wb-btn", "data-action": "keep", text: copy.keep_label, onclick: this.close}),
         el("button", {type: "button", "class": "wb-btn wb-primary", "data-action": "confirm", text: copy.confirm_label, onclick: answer(false)})];
    this.actions = el("div", {"class": "wb-actions"}, actions);
    this.setContent([chosen, label, detail, offerBox, this.actions], detail);
  };

  Dialog.prototype.submit = function (reason, detail, offer, accepted) {
    var self = this, options = this.options;
    var buttons = this.actions.querySelectorAll("button");
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
    var answer = {public_key: options.publicKey, customer_email: options.customerEmail, reason: reason.code,
                  offer_shown: offer || false, offer_accepted: accepted};
    if (options.customerId) answer.customer_id = String(options.customerId);
    if (options.authHash) answer.auth_hash = String(options.authHash); // lets Windback apply the offer itself
    if (options.subscriptionId) answer.subscription_id = String(options.subscriptionId);
    if (detail && detail.trim()) answer.detail = detail.trim();
    postAnswer(answer).then(function (data) {
      var action = data.billing_action || null;
      var applied = !!(action && action.status === "applied");
      self.submitted = {saved: !!data.saved, applied: applied, reason: reason.code, churnEventId: data.churn_event_id};
      self.showDone(applied ? appliedText(offer) : null);
      self.notify(self.submitted);
    }, function (error) {
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
      self.error.textContent = error.code === "BILLING_FAILED"
        ? "We could not apply your offer, and nothing on your account has changed. " + error.message
        : self.config.copy.error_message;
    });
  };

  /** What an applied offer did, in the customer's words. */
  function appliedText(offer) {
    function months(n) { return n + " month" + (n === 1 ? "" : "s"); }
    if (offer.type === "discount") return offer.percent_off + "% off your next " + months(offer.months) + " is on your account.";
    if (offer.type === "pause") return "Your subscription is paused for " + months(offer.months) + ".";
    return "Your subscription is now on the " + offer.to_plan + " plan.";
  }

  Dialog.prototype.showDone = function (appliedMessage) {
    var copy = this.config.copy;
    var message = this.submitted.saved ? copy.saved_message : copy.cancelled_message;
    this.sub.textContent = message;
    var close = el("button", {type: "button", "class": "wb-btn wb-primary", "data-action": "close", text: copy.close_label, onclick: this.close});
    var applied = appliedMessage && el("p", {"class": "wb-applied", "data-applied": "", text: appliedMessage});
    this.setContent([applied, el("div", {"class": "wb-actions"}, [close])], close);
  };

  Dialog.prototype.notify = function (result) {
    var options = this.options;
    try {
      if (typeof options.onComplete === "function") options.onComplete(result);
    } finally {
      var target = options.element && document.contains(options.element) ? options.element : document;
      target.dispatchEvent(new CustomEvent("windback:complete", {bubbles: true, detail: result}));
    }
  };

  Dialog.prototype.finish = function () {
    if (current !== this) return;
    current = null;
    document.removeEventListener("keydown", this.onKey, true);
    document.removeEventListener("focusin", this.onFocusIn);
    this.backdrop.parentNode && this.backdrop.parentNode.removeChild(this.backdrop);
    document.body.style.overflow = this.bodyOverflow;
    if (this.opener && typeof this.opener.focus === "function") this.opener.focus();
    if (typeof this.options.onClose === "function") this.options.onClose({submitted: !!this.submitted});
    this.resolve(this.submitted);
  };

  /** Open the cancel dialog. Resolves with {saved, applied, reason, churnEventId} once the answer is
   * stored, or null when the customer closed the dialog without answering. */
  function open(options) {
    options = Object.assign({}, options || {});
    options.publicKey = options.publicKey || defaultKey;
    if (!options.publicKey) return Promise.reject(new Error("Windback: no public key (data-public-key on the script tag)"));
    if (!options.customerEmail) return Promise.reject(new Error("Windback.open needs customerEmail"));
    if (current) current.finish();
    return loadConfig(options.publicKey).then(function (config) {
      return new Promise(function (resolve) {
        current = new Dialog(config, options, resolve);
        current.show();
      });
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest && event.target.closest("[data-windback-cancel]");
    if (!button) return;
    event.preventDefault();
    open({
      publicKey: button.getAttribute("data-public-key") || defaultKey,
      customerEmail: button.getAttribute("data-customer-email"),
      customerId: button.getAttribute("data-customer-id") || undefined,
      authHash: button.getAttribute("data-auth-hash") || undefined,
      subscriptionId: button.getAttribute("data-subscription-id") || undefined,
      element: button,
      onComplete: window.Windback.onComplete
    }).catch(function (error) {
      // The page decides what to do without the dialog (e.g. its usual cancel path).
      button.dispatchEvent(new CustomEvent("windback:error", {bubbles: true, detail: {message: error.message}}));
      if (window.console) console.error(error);
    });
  });

  window.Windback = {
    version: "1",
    open: open,
    close: function () { if (current) current.finish(); },
    preload: function (key) { return loadConfig(key || defaultKey); },
    onComplete: null // set to a function to hear answers from data-windback-cancel buttons
  };
})();
