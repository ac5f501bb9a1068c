// The one way the app talks to the server: the documented /api/v1 endpoints, with the user's JWT
// (kept in sessionStorage, so it is forgotten with the tab) sent as a Bearer header.
import { h } from "./dom.js";

const TOKEN_KEY = "windback.token";

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  signOut() { sessionStorage.removeItem(TOKEN_KEY); sessionStorage.clear(); },
};

export class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `Request failed (${status})`);
    this.status = status;
    this.code = error.code || "ERROR";
    this.details = Array.isArray(error.details) ? error.details : [];
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

function query(params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") search.set(k, String(v));
  }
  const text = search.toString();
  return text ? "?" + text : "";
}

/** Call the API; resolves to {data, meta} or throws ApiError with the envelope's words. */
export async function call(method, path, { body, params, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth && session.token) headers.Authorization = "Bearer " + session.token;
  let response;
  try {
    response = await fetch("/api/v1" + path + query(params), {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit", cache: "no-store",
    });
  } catch {
    throw new ApiError(0, { code: "NETWORK", message: "The server could not be reached. Check your connection and try again." });
  }
  if (response.status === 204) return { data: null, meta: null };
  let payload = null;
  try { payload = await response.json(); } catch { payload = null; }
  if (!response.ok) {
    const error = new ApiError(response.status, (payload && payload.error) || { message: `The server answered ${response.status}` });
    if (response.status === 401 && auth && session.token) onUnauthorized(error);
    throw error;
  }
  return { data: payload ? payload.data : null, meta: payload ? payload.meta || null : null };
}

export const api = {
  get: (path, params) => call("GET", path, { params }),
  post: (path, body) => call("POST", path, { body: body ?? {} }),
  patch: (path, body) => call("PATCH", path, { body }),
  del: (path) => call("DELETE", path),
  project: (slug) => "/projects/" + encodeURIComponent(slug),
};

/** An error banner with the envelope's message and each field's detail, as text. */
export function errorBanner(error) {
  const details = (error.details || []).map((d) =>
    h("li", {}, d.field ? h("code", {}, d.field) : null, d.field ? ": " : null, d.message || ""));
  return h("div", { class: "banner error", role: "alert" },
    h("strong", {}, error.message || String(error)),
    error.code && error.code !== "ERROR" ? h("span", { class: "code" }, ` (${error.code})`) : null,
    details.length ? h("ul", {}, details) : null);
}

/** Put an error banner into `slot` (a container kept for messages). */
export function showError(slot, error) {
  if (!(error instanceof ApiError)) console.warn(error);
  slot.replaceChildren(errorBanner(error));
  markInvalidFields(slot.closest("section, main") || document, error);
  slot.scrollIntoView && slot.scrollIntoView({ block: "nearest" });
}

/** Flag the inputs a `details` entry names (`settings.mail_from` -> name="mail_from"). */
function markInvalidFields(root, error) {
  for (const el of root.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const detail of error.details || []) {
    const name = String(detail.field || "").split(".").pop();
    if (!name) continue;
    for (const el of root.querySelectorAll(`[name="${CSS.escape(name)}"]`)) el.setAttribute("aria-invalid", "true");
  }
}

export function showNotice(slot, text) {
  for (const el of (slot.closest("section, main") || document).querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  slot.replaceChildren(h("div", { class: "banner success", role: "status" }, text));
}
