/* Supervisor and admin pages: watch list, enrolled travellers, audit log, lanes and accounts.
   Own work, Apache-2.0. */
"use strict";
(function () {
  const { cfg, t, el, api, url, fmtTime, zonedMidnight, notice } = window.egate;
  const page = document.body.dataset.page;

  function table(head, rows) {
    return el("table", {}, el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows));
  }
  function formObject(form) {
    const o = {};
    for (const [k, v] of new FormData(form).entries()) if (typeof v === "string" && v !== "") o[k] = v;
    return o;
  }
  async function guarded(status, fn) {
    try { await fn(); } catch (e) { notice(status, "error", t("common.error", { detail: e.message })); }
  }

  /* ---------------------------------------------------------------- lists */
  function lists() {
    const root = document.getElementById("list");
    const status = document.getElementById("list-status");
    const name = root.dataset.list;
    const fields = root.dataset.fields.split(",");
    async function load() {
      const data = await api("GET", url("lists", { list_name: name }));
      document.getElementById("list-version").textContent = t("watchlist.version", { version: data.version ?? 0 });
      const entries = data.entries || [];
      if (!entries.length) { notice(root, "info", t("watchlist.empty")); return; }
      root.replaceChildren(table([...fields.map((f) => t("field." + f)), ""], entries.map((e) =>
        el("tr", { "data-key": e.key }, fields.map((f) => el("td", { text: e[f] ?? "" })),
          el("td", {}, el("button", { type: "button", "aria-label": t("watchlist.remove") + " " + e.key, text: t("watchlist.remove"),
            onclick: () => guarded(status, async () => {
              await api("DELETE", url("lists", { list_name: name }) + "/entries/" + encodeURIComponent(e.key));
              notice(status, "ok", t("watchlist.remove") + ": " + e.key);
              await load();
            }) }))))));
    }
    document.getElementById("list-add").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const entry = formObject(ev.target);
      for (const k of ["issuing_state", "document_number", "nationality"]) if (entry[k]) entry[k] = entry[k].toUpperCase();
      guarded(status, async () => {
        await api("POST", url("lists", { list_name: name }) + "/entries", { entries: [entry] });
        ev.target.reset();
        notice(status, "ok", t("watchlist.add") + ": " + entry.issuing_state + ":" + entry.document_number);
        await load();
      });
    });
    document.getElementById("list-import").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const file = ev.target.querySelector("input[type=file]").files[0];
      if (!file) return;
      guarded(status, async () => {
        const text = await file.text();
        const res = await fetch(url("lists", { list_name: name }) + "/import", { method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "text/csv", [cfg.csrf_header]: cfg.csrf_token }, body: text });
        if (!res.ok) throw new Error((await res.text()) || res.statusText);
        notice(status, "ok", t("watchlist.import") + ": " + file.name);
        await load();
      });
    });
    guarded(status, load);
  }

  /* ---------------------------------------------------------------- audit */
  function audit() {
    const root = document.getElementById("audit");
    const form = document.getElementById("audit-form");
    const older = document.getElementById("audit-older");
    const newer = document.getElementById("audit-newer");
    const PAGE = 100;
    const pages = [];  // the "until" of each page shown before the current one
    let current = null;
    async function load(until) {
      const f = formObject(form);
      const p = new URLSearchParams();
      for (const k of ["actor", "action", "target"]) if (f[k]) p.set(k, f[k]);
      if (f.from) p.set("since", String(zonedMidnight(f.from)));
      const end = f.to ? zonedMidnight(f.to) + 86400 : null;
      const upper = until !== undefined && until !== null ? (end === null ? until : Math.min(until, end)) : end;
      if (upper !== null) p.set("until", String(upper));
      p.set("limit", String(PAGE));
      const data = await api("GET", url("audit") + "?" + p);
      const entries = data.entries || [];
      current = until ?? null;
      older.disabled = entries.length < PAGE;
      newer.disabled = pages.length === 0;
      older.dataset.until = entries.length ? String(entries[entries.length - 1].at) : "";
      if (!entries.length) { notice(root, "info", t("audit.empty")); return; }
      root.replaceChildren(table(["#", t("audit.at"), t("audit.actor"), t("audit.action"), t("audit.target"), t("audit.detail")],
        entries.map((e) => el("tr", { "data-seq": e.seq }, el("td.num", { text: e.seq }), el("td", { text: fmtTime(e.at, null, true) }),
          el("td", { text: e.actor }), el("td", { text: e.action }), el("td", { text: e.target || "" }),
          el("td", { text: typeof e.detail === "string" ? e.detail : JSON.stringify(e.detail || {}) })))));
    }
    form.addEventListener("submit", (ev) => { ev.preventDefault(); pages.length = 0; guarded(root, () => load()); });
    older.addEventListener("click", () => { pages.push(current); guarded(root, () => load(Number(older.dataset.until))); });
    newer.addEventListener("click", () => { guarded(root, () => load(pages.pop())); });
    guarded(root, () => load());
  }

  /* ---------------------------------------------------------------- admin */
  function admin() {
    const status = document.getElementById("admin-status");
    const lanesBox = document.getElementById("admin-lanes");
    const accountsBox = document.getElementById("admin-accounts");
    function showToken(token) {
      document.getElementById("lane-token-value").textContent = token;
      document.getElementById("lane-token").hidden = false;
    }
    async function loadLanes() {
      const data = await api("GET", url("lanes"));
      const lanes = Array.isArray(data) ? data : data.lanes || [];
      lanesBox.replaceChildren(table([t("admin.lane_id"), t("field.name"), t("admin.port"), t("admin.terminal"), t("exceptions.status"), ""],
        lanes.map((l) => el("tr", {}, el("td", {}, el("a", { href: url("lane_page", { lane_id: l.lane_id }), text: l.lane_id })),
          el("td", { text: l.name || "" }), el("td", { text: l.port || "" }), el("td", { text: l.terminal || "" }),
          el("td", { text: t("state." + (l.online ? (l.state || "idle") : "offline")) }),
          el("td", {}, el("button", { type: "button", text: t("admin.rotate"), onclick: () => guarded(status, async () => {
            const res = await api("POST", url("lane", { lane_id: l.lane_id }) + "/credentials", {});
            showToken(res.token);
          }) }))))));
    }
    async function loadAccounts() {
      const data = await api("GET", url("officers"));
      const list = Array.isArray(data) ? data : data.officers || [];
      accountsBox.replaceChildren(table([t("admin.username"), t("field.name"), t("admin.role"), t("exceptions.status"), ""],
        list.map((o) => el("tr", {}, el("td", { text: o.username }), el("td", { text: o.display_name || "" }),
          el("td", { text: t("role." + o.role) }), el("td", { text: t(o.disabled ? "admin.disabled" : "admin.enabled") }),
          el("td", {}, o.disabled ? null : el("button", { type: "button", text: t("admin.disable"), onclick: () => guarded(status, async () => {
            await api("PATCH", url("officers") + "/" + encodeURIComponent(o.username), { disabled: true });
            await loadAccounts();
          }) }))))));
    }
    document.getElementById("lane-register").addEventListener("submit", (ev) => {
      ev.preventDefault();
      guarded(status, async () => {
        const res = await api("POST", url("lane_registration"), formObject(ev.target));
        showToken(res.token);
        ev.target.reset();
        await loadLanes();
      });
    });
    document.getElementById("account-create").addEventListener("submit", (ev) => {
      ev.preventDefault();
      guarded(status, async () => {
        const body = formObject(ev.target);
        await api("POST", url("officers"), body);
        ev.target.reset();
        notice(status, "ok", t("admin.create_account") + ": " + body.username);
        await loadAccounts();
      });
    });
    guarded(status, loadLanes);
    guarded(status, loadAccounts);
  }

  if (page === "watchlist" || page === "travellers") lists();
  else if (page === "audit") audit();
  else if (page === "admin") admin();
})();
