// The app's entry: a History-API router (state lives in the URL, so any view can be shared or
// reloaded), the signed-in shell with its navigation, and sign-out.
import { api, session, setUnauthorizedHandler, errorBanner } from "./api.js";
import { h, clear } from "./dom.js";
import * as auth from "./pages/auth.js";
import * as projects from "./pages/projects.js";
import * as overview from "./pages/overview.js";
import * as events from "./pages/events.js";
import * as payments from "./pages/payments.js";
import * as event from "./pages/event.js";
import * as settings from "./pages/settings.js";
import * as team from "./pages/team.js";
import * as campaign from "./pages/campaign.js";
import * as customers from "./pages/customers.js";

const ROLE_RANK = { member: 1, admin: 2, owner: 3 };
const PROJECT = "/app/projects/([^/]+)";

// [pattern, page, options]; `project` pages get the project's membership; `admin` pages need it.
const ROUTES = [
  [/^\/app\/?$/, null, { redirect: true }],
  [/^\/app\/sign-in$/, auth.signIn, { public: true }],
  [/^\/app\/register$/, auth.register, { public: true }],
  [/^\/app\/forgot-password$/, auth.forgotPassword, { public: true }],
  [/^\/app\/reset-password$/, auth.resetPassword, { public: true }],
  [/^\/app\/verify-email$/, auth.verifyEmail, { public: true }],
  [/^\/app\/accept-invitation$/, team.acceptInvitation, { either: true }],
  [/^\/app\/projects$/, projects.list, {}],
  [new RegExp(`^${PROJECT}$`), overview.page, { project: true, nav: "overview" }],
  [new RegExp(`^${PROJECT}/events$`), events.page, { project: true, nav: "events" }],
  [new RegExp(`^${PROJECT}/events/([^/]+)$`), event.page, { project: true, nav: "events" }],
  [new RegExp(`^${PROJECT}/customers$`), customers.list, { project: true, nav: "customers" }],
  [new RegExp(`^${PROJECT}/customers/([^/]+)$`), customers.detail, { project: true, nav: "customers" }],
  [new RegExp(`^${PROJECT}/payments$`), payments.page, { project: true, nav: "payments" }],
  [new RegExp(`^${PROJECT}/settings$`), settings.page, { project: true, nav: "settings", admin: true }],
  [new RegExp(`^${PROJECT}/team$`), team.page, { project: true, nav: "team" }],
  [new RegExp(`^${PROJECT}/campaign$`), campaign.page, { project: true, nav: "campaign" }],
];

const root = document.getElementById("root");
const state = { me: null, renderId: 0 };

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  render();
}

async function loadMe(force = false) {
  if (!session.token) { state.me = null; return null; }
  if (state.me && !force) return state.me;
  const { data } = await api.get("/auth/me");
  state.me = data;
  return data;
}

function signOut() {
  session.signOut();
  state.me = null;
  navigate("/app/sign-in", { replace: true });
}

setUnauthorizedHandler(() => {
  // An expired or revoked token: forget it and ask to sign in again, coming back here after.
  session.signOut();
  state.me = null;
  const next = location.pathname + location.search;
  navigate("/app/sign-in?expired=1&next=" + encodeURIComponent(next), { replace: true });
});

function publicLayout() {
  const main = h("main", { id: "main", class: "public-main", tabindex: "-1" });
  clear(root, h("div", { class: "public" },
    h("a", { class: "brand big", href: "/app" }, h("span", { class: "logo", "aria-hidden": "true" }), "Windback"),
    main));
  return main;
}

function shell(ctx, navKey) {
  const { me, slug, membership } = ctx;
  const projectsList = me.projects || [];
  const switcher = h("select", {
    id: "project-switcher", "aria-label": "Project",
    onchange(e) { if (e.target.value === "__all") navigate("/app/projects"); else navigate("/app/projects/" + encodeURIComponent(e.target.value)); },
  },
  slug ? null : h("option", { value: "", selected: true }, "Choose a project…"),
  projectsList.map((p) => h("option", { value: p.slug, selected: p.slug === slug }, p.name)),
  h("option", { value: "__all" }, "All projects…"));

  const link = (key, href, label) => h("a", {
    href, class: navKey === key ? "nav-link active" : "nav-link", "aria-current": navKey === key ? "page" : null,
  }, label);
  const base = slug ? "/app/projects/" + encodeURIComponent(slug) : null;
  const isAdmin = membership && ROLE_RANK[membership.role] >= ROLE_RANK.admin;
  const links = base ? [
    link("overview", base, "Overview"),
    link("events", base + "/events", "Churn events"),
    link("customers", base + "/customers", "Customers"),
    link("payments", base + "/payments", "Failed payments"),
    link("campaign", base + "/campaign", "Campaign"),
    isAdmin ? link("settings", base + "/settings", "Settings") : null,
    link("team", base + "/team", "Team"),
  ] : [link("projects", "/app/projects", "Projects")];

  const navList = h("nav", { class: "nav-links", "aria-label": "Project" }, links);
  const menuButton = h("button", {
    type: "button", class: "menu-button", "aria-expanded": "false", "aria-controls": "sidebar-body",
    onclick(e) {
      const open = sidebar.classList.toggle("open");
      e.currentTarget.setAttribute("aria-expanded", String(open));
    },
  }, "Menu");
  const sidebar = h("aside", { class: "sidebar" },
    h("div", { class: "sidebar-top" },
      h("a", { class: "brand", href: "/app/projects" }, h("span", { class: "logo", "aria-hidden": "true" }), "Windback"),
      menuButton),
    h("div", { class: "sidebar-body", id: "sidebar-body" },
      projectsList.length ? h("div", { class: "field compact" }, h("label", { for: "project-switcher" }, "Project"), switcher) : null,
      navList,
      h("div", { class: "user" },
        h("span", { class: "user-name" }, me.name || me.email),
        membership ? h("span", { class: "badge role" }, membership.role) : null,
        h("button", { type: "button", class: "button small", id: "sign-out", onclick: signOut }, "Sign out"))));
  const main = h("main", { id: "main", class: "main", tabindex: "-1" });
  clear(root, h("div", { class: "layout" }, sidebar, main));
  return main;
}

function notFound(main, text) {
  main.append(h("h1", {}, "Not found"), h("p", {}, text), h("p", {}, h("a", { href: "/app/projects" }, "Back to your projects")));
}

export async function render() {
  const renderId = ++state.renderId;
  const active = document.activeElement;
  const focusKey = active && active !== document.body ? (active.getAttribute("name") || active.id || null) : null;
  const path = location.pathname.replace(/\/+$/, "") || "/app";
  const query = new URLSearchParams(location.search);
  let match = null;
  let route = null;
  for (const candidate of ROUTES) {
    match = candidate[0].exec(path);
    if (match) { route = candidate; break; }
  }
  const options = route ? route[2] : {};
  if (route && options.redirect) {
    navigate(session.token ? "/app/projects" : "/app/sign-in", { replace: true });
    return;
  }
  if (route && options.public && session.token && !/(reset-password|verify-email)$/.test(path)) {
    const next = query.get("next") || "";
    navigate(next.startsWith("/app/") ? next : "/app/projects", { replace: true });
    return;
  }
  if (route && !options.public && !options.either && !session.token) {
    navigate("/app/sign-in?next=" + encodeURIComponent(path + location.search), { replace: true });
    return;
  }
  const ctx = {
    query, navigate, params: match ? match.slice(1).map(decodeURIComponent) : [],
    isCurrent: () => renderId === state.renderId,
    refreshMe: () => loadMe(true),
    signedIn: Boolean(session.token),
  };
  let main;
  if (!route || options.public || (options.either && !session.token)) {
    main = publicLayout();
    if (!route) notFound(main, "There is no page at this address.");
    else await route[1](main, ctx);
  } else {
    let me;
    try {
      me = await loadMe();
    } catch (error) {
      if (renderId !== state.renderId) return;
      main = publicLayout();
      main.append(errorBanner(error), h("p", {}, h("a", { href: "/app/sign-in" }, "Sign in again")));
      return;
    }
    if (renderId !== state.renderId) return;
    ctx.me = me;
    if (options.project) {
      ctx.slug = ctx.params[0];
      ctx.membership = (me.projects || []).find((p) => p.slug === ctx.slug) || null;
      if (!ctx.membership) {
        // Maybe just created or joined: ask again before saying no.
        me = await loadMe(true).catch(() => me);
        ctx.me = me;
        ctx.membership = (me.projects || []).find((p) => p.slug === ctx.slug) || null;
      }
    }
    main = shell(ctx, options.nav || "projects");
    if (options.project && !ctx.membership) {
      notFound(main, "This project does not exist, or you are not a member of it.");
    } else if (options.admin && ROLE_RANK[ctx.membership.role] < ROLE_RANK.admin) {
      main.append(h("h1", {}, "Settings"),
        h("div", { class: "banner info", role: "status" },
          `Only owners and admins can change a project's settings and keys; your role is ${ctx.membership.role}.`));
    } else {
      ctx.isAdmin = ctx.membership ? ROLE_RANK[ctx.membership.role] >= ROLE_RANK.admin : false;
      ctx.isOwner = ctx.membership ? ctx.membership.role === "owner" : false;
      await route[1](main, ctx);
    }
  }
  // A new page moves focus to its heading (screen readers announce it); a new query on the same
  // page (filters, sorting, paging) leaves the user where they are.
  if (renderId === state.renderId && state.lastPath && state.lastPath !== location.pathname) {
    const heading = main.querySelector("h1");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: true }); }
  } else if (renderId === state.renderId && focusKey && !document.activeElement?.closest("main")) {
    const again = main.querySelector(`[name="${CSS.escape(focusKey)}"]`) || document.getElementById(focusKey);
    if (again) again.focus({ preventScroll: true });
  }
  state.lastPath = location.pathname;
}

// Links inside the app navigate without reloading the page.
document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download") || a.getAttribute("href").startsWith("#")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith("/app") || url.pathname.startsWith("/app/assets")) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener("popstate", () => render());
render();
