// DOM building that can only ever insert text: values from the API (customer names, free-text
// reasons) are attacker controlled, so nothing here parses markup: text nodes and attributes only.

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(el, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (name === "dataset") {
      for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
    } else if (name === "value" && "value" in el) {
      el.value = String(value);
    } else if (name === "checked" || name === "selected" || name === "disabled") {
      el[name] = Boolean(value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
}

/** el.append that skips null/false (optional parts of a view). */
export function add(el, ...children) {
  return append(el, children);
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** h("div", {class: "x"}, "text", otherNode): an element; strings become text nodes. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  return append(el, children);
}

export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  return append(el, children);
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let idCounter = 0;
export function uid(prefix = "f") {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A labelled form field: label + control (+ hint). */
export function field(label, control, hint) {
  if (!control.id) control.id = uid("field");
  const hintEl = hint ? h("p", { class: "hint", id: control.id + "-hint" }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, hintEl);
}

export function select(name, options, value, attrs = {}) {
  return h("select", { name, ...attrs },
    options.map(([v, label]) => h("option", { value: v, selected: String(v) === String(value ?? "") }, label)));
}

/** Copy text to the clipboard, falling back to a selected input when the API is unavailable. */
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (input) {
      input.select();
      return document.execCommand && document.execCommand("copy");
    }
    return false;
  }
}

export function copyButton(text, label = "Copy", input = null) {
  const status = h("span", { class: "copy-status", role: "status" });
  const button = h("button", {
    type: "button", class: "button small",
    async onclick() {
      const ok = await copyText(typeof text === "function" ? text() : text, input);
      status.textContent = ok ? "Copied" : "Select and copy it by hand";
    },
  }, label);
  return h("span", { class: "copy" }, button, status);
}

/** A modal confirmation built on <dialog>, never the browser's blocking prompts. Resolves true or false. */
export function confirmDialog({ title, body, confirmLabel = "Confirm", danger = false }) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "modal", "aria-labelledby": "modal-title" });
    const done = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    dialog.append(
      h("h2", { id: "modal-title" }, title),
      h("div", { class: "modal-body" }, body),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "button", onclick: () => done(false) }, "Cancel"),
        h("button", { type: "button", class: danger ? "button danger" : "button primary", onclick: () => done(true) },
          confirmLabel)),
    );
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); done(false); });
    document.body.append(dialog);
    dialog.showModal();
    dialog.querySelector(".actions .primary, .actions .danger").focus();
  });
}
