// The cancel-flow preview frame: loads the real /widget.js and opens it with the settings being
// edited. The widget's calls to the cancel-flow API are answered here from the draft, so the
// preview shows unsaved changes and never records an answer.
const status = document.getElementById("preview-status");
let config = null;

// The widget focuses its dialog when it opens. Here it opens again after every edit, while the
// person is typing in the settings page: a focus call from this frame would take the keyboard
// away from them. Focus moves only once they are using the preview itself.
const nativeFocus = HTMLElement.prototype.focus;
HTMLElement.prototype.focus = function focus(options) {
  if (document.hasFocus()) nativeFocus.call(this, options);
};

const realFetch = window.fetch.bind(window);
function answer(status, payload) {
  return Promise.resolve(new Response(JSON.stringify(payload), { status, headers: { "Content-Type": "application/json" } }));
}
window.fetch = (input, init) => {
  const url = new URL(typeof input === "string" ? input : input.url, location.href);
  if (config && url.pathname.includes("/cancel-flow/config/")) {
    const { public_key: _key, ...data } = config;
    return answer(200, { data });
  }
  if (url.pathname.includes("/cancel-flow/reasons")) {
    let accepted = false;
    try { accepted = Boolean(JSON.parse(init && init.body ? init.body : "{}").offer_accepted); } catch { accepted = false; }
    return answer(201, { data: { churn_event_id: "preview", saved: accepted } });
  }
  return realFetch(input, init);
};

function open() {
  if (!window.Windback || typeof window.Windback.open !== "function") {
    status.textContent = "The widget (/widget.js) is not available on this server.";
    return;
  }
  status.textContent = "Preview: answers here are not recorded.";
  window.Windback.open({
    publicKey: config.public_key,
    customerEmail: "preview@example.com",
    customerId: "preview",
    onComplete() { status.textContent = "Preview finished; nothing was recorded. Use Restart preview to see it again."; },
  });
}

window.addEventListener("message", (e) => {
  if (e.origin !== location.origin || !e.data || e.data.type !== "preview-config") return;
  config = e.data.config;
  const script = document.createElement("script");
  script.src = "/widget.js";
  script.dataset.publicKey = config.public_key;
  script.addEventListener("load", open);
  script.addEventListener("error", () => { status.textContent = "The widget (/widget.js) could not be loaded."; });
  document.head.append(script);
});

if (window.parent !== window) window.parent.postMessage({ type: "preview-ready" }, location.origin);
else status.textContent = "Open this preview from the project's settings.";
