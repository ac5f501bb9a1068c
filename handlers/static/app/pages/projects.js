// The project list, and creating a project (its secret key is shown once, here).
import { api, showError } from "../api.js";
import { h, field, clear, copyButton } from "../dom.js";
import { date } from "../format.js";

/** The panel that shows a secret key once, with a copy button and a warning. */
export function secretKeyPanel(secretKey, publicKey, extra) {
  const input = h("input", { type: "text", readonly: true, value: secretKey, class: "mono", id: "secret-key", "aria-label": "Secret key" });
  return h("section", { class: "card key-reveal", "aria-labelledby": "key-title" },
    h("h2", { id: "key-title" }, "Your secret key"),
    h("div", { class: "banner warning", role: "alert" },
      h("strong", {}, "Copy it now: it is shown only this once. "),
      "Keep it on your server (X-API-Key header); never put it in a web page or app. Lost it? Rotate the keys in Settings."),
    h("div", { class: "key-row" }, input, copyButton(secretKey, "Copy secret key", input)),
    publicKey ? h("p", {}, "Public key (for the widget and webhook URLs): ", h("code", { class: "mono" }, publicKey)) : null,
    extra || null);
}

export async function list(main, ctx) {
  document.title = "Projects · Windback";
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  const listSlot = h("div", { class: "project-list" }, h("p", { class: "loading", role: "status" }, "Loading projects…"));
  const created = h("div");
  const name = h("input", { type: "text", name: "name", required: true, maxlength: 200 });
  const slug = h("input", { type: "text", name: "slug", pattern: "[a-z0-9-]{3,48}", placeholder: "derived from the name" });
  const form = h("form", {
    class: "stack",
    async onsubmit(e) {
      e.preventDefault();
      const body = { name: name.value.trim() };
      if (slug.value.trim()) body.slug = slug.value.trim();
      form.querySelector("button").disabled = true;
      try {
        const { data } = await api.post("/projects", body);
        await ctx.refreshMe();
        form.reset();
        const open = "/app/projects/" + encodeURIComponent(data.slug);
        clear(created, secretKeyPanel(data.secret_key, data.public_key,
          h("p", {}, h("a", { class: "button primary", href: open, id: "open-project" }, `Open ${data.name}`))));
        created.querySelector("#secret-key").focus();
        messages.replaceChildren();
        loadList();
      } catch (error) {
        showError(messages, error);
      }
      form.querySelector("button").disabled = false;
    },
  }, field("Project name", name), field("Slug (optional)", slug, "3-48 characters: a-z, 0-9 and -. It never changes."),
  h("button", { type: "submit", class: "button primary" }, "Create project"));

  async function loadList() {
    try {
      const { data, meta } = await api.get("/projects", { per_page: 100 });
      if (!ctx.isCurrent()) return;
      if (!data.length) {
        clear(listSlot, h("div", { class: "empty" }, h("p", {}, "No projects yet. Create your first one to get API keys."))); return;
      }
      clear(listSlot, h("ul", { class: "cards-list" }, data.map((p) => h("li", {},
        h("a", { class: "card project-card", href: "/app/projects/" + encodeURIComponent(p.slug) },
          h("strong", {}, p.name),
          h("span", { class: "muted" }, p.slug),
          h("span", { class: "badge" }, p.role || ""),
          h("span", { class: "muted" }, "Created " + date(p.created_at)))))),
      meta && meta.total > data.length ? h("p", { class: "muted" }, `Showing ${data.length} of ${meta.total}.`) : null);
    } catch (error) {
      showError(listSlot, error);
    }
  }
  main.append(h("h1", {}, "Projects"), messages, created, listSlot,
    h("section", { class: "card" }, h("h2", {}, "New project"), form));
  await loadList();
}
