// Team: members and roles, invitations (send, list the pending ones, revoke), and accepting one from its email link.
import { api, call, session, showError, showNotice } from "../api.js";
import { h, clear, field, select, confirmDialog } from "../dom.js";
import { date, dateTime } from "../format.js";

const ROLES = [["member", "Member"], ["admin", "Admin"], ["owner", "Owner"]];

export async function page(main, ctx) {
  const { slug } = ctx;
  const base = api.project(slug);
  document.title = `Team · ${ctx.membership.name} · Windback`;
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  const listSlot = h("div", {}, h("p", { class: "loading", role: "status" }, "Loading members…"));
  // Pending invitations are for owners and admins only (the API answers 403 to members).
  const invitationsBody = h("div", {}, h("p", { class: "loading", role: "status" }, "Loading invitations…"));
  const invitationsSlot = h("section", { class: "card", id: "invitations", "aria-labelledby": "invitations-title" },
    h("h2", { id: "invitations-title" }, "Pending invitations"), invitationsBody);
  main.append(h("h1", {}, "Team"), messages, listSlot);

  if (ctx.isAdmin) {
    const email = h("input", { type: "email", name: "email", required: true, autocomplete: "off" });
    const role = select("role", [["member", "Member: churn events, emails, stats"], ["admin", "Admin: also settings, keys and team"]], "member");
    const form = h("form", {
      class: "stack",
      async onsubmit(e) {
        e.preventDefault();
        try {
          const { data } = await api.post(base + "/invitations", { email: email.value.trim(), role: role.value });
          showNotice(messages, `Invitation sent to ${data.email} as ${data.role}; the link works once, until ${dateTime(data.expires_at)}.`);
          form.reset();
        } catch (error) {
          showError(messages, error);
        }
        // Also after an error: a re-invite revokes the old invitation before the email can fail.
        loadInvitations();
      },
    }, field("Email", email), field("Role", role), h("button", { type: "submit", class: "button primary" }, "Send invitation"));
    main.append(h("section", { class: "card", id: "invite" }, h("h2", {}, "Invite someone"), form), invitationsSlot);
  } else {
    main.append(h("p", { class: "muted" }, `You are a ${ctx.membership.role} of this project. Owners and admins manage the team.`));
  }

  async function load() {
    let members;
    try {
      members = (await api.get(base + "/members", { per_page: 100 })).data;
    } catch (error) {
      if (ctx.isCurrent()) showError(listSlot, error);
      return;
    }
    if (!ctx.isCurrent()) return;
    const myId = ctx.me.id;
    const rows = members.map((m) => {
      const canRemove = ctx.isAdmin && m.user_id !== myId && (ctx.isOwner || m.role !== "owner");
      const roleCell = ctx.isOwner && m.user_id !== myId
        ? select("role", ROLES, m.role, {
          "aria-label": `Role of ${m.name || m.email}`,
          async onchange(e) {
            try {
              await api.patch(`${base}/members/${encodeURIComponent(m.user_id)}`, { role: e.target.value });
              showNotice(messages, `${m.name || m.email} is now ${e.target.value}.`);
            } catch (error) {
              showError(messages, error);
            }
            load();
          },
        })
        : h("span", { class: "badge" }, m.role);
      return h("tr", {},
        h("td", {}, h("strong", {}, m.name || "—"), m.user_id === myId ? h("span", { class: "muted" }, " (you)") : null),
        h("td", {}, m.email),
        h("td", {}, roleCell),
        h("td", {}, date(m.joined_at)),
        h("td", {}, canRemove ? h("button", {
          type: "button", class: "button small danger",
          async onclick() {
            const ok = await confirmDialog({ title: "Remove from the project?", body: [h("p", {}, `${m.name || m.email} loses access at once.`)], confirmLabel: "Remove", danger: true });
            if (!ok) return;
            try {
              await api.del(`${base}/members/${encodeURIComponent(m.user_id)}`);
              showNotice(messages, `${m.name || m.email} was removed.`);
            } catch (error) {
              showError(messages, error);
            }
            load();
          },
        }, "Remove") : null));
    });
    clear(listSlot, h("section", { class: "card" }, h("h2", {}, "Members"), h("div", { class: "table-wrap" },
      h("table", { class: "table", id: "members-table" },
        h("thead", {}, h("tr", {}, ["Name", "Email", "Role", "Joined", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows)))));
  }
  async function loadInvitations() {
    let invitations;
    try {
      invitations = (await api.get(base + "/invitations", { per_page: 100 })).data;
    } catch (error) {
      if (ctx.isCurrent()) showError(invitationsBody, error);
      return;
    }
    if (!ctx.isCurrent()) return;
    if (!invitations.length) {
      clear(invitationsBody, h("p", { class: "empty" }, "No pending invitations. Invitations you send appear here until they are accepted, revoked or expire."));
      return;
    }
    const rows = invitations.map((inv) => h("tr", {},
      h("td", {}, inv.email),
      h("td", {}, h("span", { class: "badge" }, inv.role)),
      h("td", {}, dateTime(inv.expires_at)),
      h("td", {}, h("button", {
        type: "button", class: "button small danger", "aria-label": `Revoke the invitation to ${inv.email}`,
        async onclick() {
          const ok = await confirmDialog({
            title: "Revoke this invitation?",
            body: [h("p", {}, `The link sent to ${inv.email} stops working at once. You can invite them again later.`)],
            confirmLabel: "Revoke", danger: true,
          });
          if (!ok) return;
          try {
            await api.del(`${base}/invitations/${encodeURIComponent(inv.id)}`);
            showNotice(messages, `The invitation to ${inv.email} was revoked.`);
          } catch (error) {
            showError(messages, error);
          }
          loadInvitations();
        },
      }, "Revoke"))));
    clear(invitationsBody, h("div", { class: "table-wrap" },
      h("table", { class: "table", id: "invitations-table" },
        h("thead", {}, h("tr", {}, ["Email", "Role", "Expires", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows))));
  }

  await Promise.all([load(), ctx.isAdmin ? loadInvitations() : null]);
}

/** `/app/accept-invitation?token=...`, the link in the invitation email. */
export async function acceptInvitation(main, ctx) {
  document.title = "Accept invitation · Windback";
  const token = ctx.query.get("token") || "";
  const here = "/app/accept-invitation?token=" + encodeURIComponent(token);
  const card = h("section", { class: "card auth-card" }, h("h1", {}, "Join a project"));
  main.append(card);
  if (!token) {
    card.append(h("div", { class: "banner error", role: "alert" }, "This link has no invitation token. Use the link from the email."));
    return;
  }
  if (!session.token) {
    card.append(h("p", {}, "Sign in, or create an account with the address the invitation was sent to, to accept it."),
      h("div", { class: "actions" },
        h("a", { class: "button primary", href: "/app/sign-in?next=" + encodeURIComponent(here) }, "Sign in"),
        h("a", { class: "button", href: "/app/register?next=" + encodeURIComponent(here) }, "Create an account")));
    return;
  }
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  const button = h("button", {
    type: "button", class: "button primary", id: "accept",
    async onclick() {
      button.disabled = true;
      try {
        const { data } = await call("POST", `/invitations/${encodeURIComponent(token)}/accept`, { body: {} });
        await ctx.refreshMe();
        const project = data.project || data;
        const projectSlug = project.slug || data.slug;
        clear(messages, h("div", { class: "banner success", role: "status" },
          `You joined ${project.name || projectSlug} as ${data.role}. `,
          projectSlug ? h("a", { href: "/app/projects/" + encodeURIComponent(projectSlug) }, "Open the project") : null));
        button.remove();
      } catch (error) {
        button.disabled = false;
        showError(messages, error);
      }
    },
  }, "Accept invitation");
  card.append(h("p", {}, `You are signed in as ${ctx.me ? ctx.me.email : "your account"}. The invitation must be for this address.`),
    messages, h("div", { class: "actions" }, button, h("a", { class: "button", href: "/app/projects" }, "Not now")));
}
