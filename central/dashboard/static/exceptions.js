/* Exceptions queue: alarms and referrals in order of urgency, acknowledge and shelve.
   Own work, Apache-2.0. */
"use strict";
(function () {
  const { cfg, t, el, api, url, fmtTime, notice, stream, setAlarmCount } = window.egate;
  const root = document.getElementById("exceptions");
  const status = document.getElementById("exceptions-status");
  const showShelved = document.getElementById("show-shelved");

  /* Lower is more urgent: people at risk, then security, then passage, then devices. */
  const RANK = { emergency: 0, person_trapped: 0, watchlist_hit: 1, forced_door: 2, tamper: 2,
    tailgating: 3, document_used_twice: 3, reverse_passage: 3, referral: 4, lane_offline: 5, device_fault: 6 };
  const STATE_RANK = { active: 0, acknowledged: 1, shelved: 2, cleared: 3 };
  const SHELVE_MINUTES = 15;
  const SHAPE = { referral: "referred", device_fault: "fault", lane_offline: "offline" };

  function urgency(a, b) {
    return (RANK[a.kind] ?? 5) - (RANK[b.kind] ?? 5)
      || (STATE_RANK[a.state] ?? 9) - (STATE_RANK[b.state] ?? 9)
      || String(a.since).localeCompare(String(b.since));
  }

  function items(alarms, referrals) {
    const out = [];
    for (const a of alarms) {
      out.push({ type: "alarm", id: a.alarm_id, kind: a.kind, lane_id: a.lane_id, since: a.raised_at,
        state: a.state, detail: a.detail || "", transaction_id: a.transaction_id });
    }
    for (const r of referrals) {
      out.push({ type: "referral", id: r.transaction_id, kind: "referral", lane_id: r.lane_id, since: r.created_at,
        state: "active", detail: (r.reasons || []).join(", "), transaction_id: r.transaction_id });
    }
    return out.sort(urgency);
  }

  async function act(item, action) {
    try {
      await api("POST", url("alarm_" + action, { alarm_id: item.id }), action === "shelve" ? { minutes: SHELVE_MINUTES } : {});
      notice(status, "ok", t("exceptions." + action) + ": " + t("alarm." + item.kind) + " · " + item.lane_id);
      await load();
    } catch (e) { notice(status, "error", t("common.error", { detail: e.message })); }
  }

  function row(item) {
    const shape = SHAPE[item.kind] || "alarm";
    const actions = [];
    if (item.type === "referral") {
      actions.push(el("a.button", { href: url("referral_page", { transaction_id: item.id }), text: t("exceptions.review") }));
    } else {
      if (item.state === "active") actions.push(el("button", { type: "button", text: t("exceptions.acknowledge"), onclick: () => act(item, "acknowledge") }));
      if (item.state !== "shelved") actions.push(el("button", { type: "button", text: t("exceptions.shelve"), onclick: () => act(item, "shelve") }));
      if (item.transaction_id) actions.push(el("a.button", { href: url("referral_page", { transaction_id: item.transaction_id }), text: t("exceptions.review") }));
    }
    return el("tr" + (item.state === "active" && (RANK[item.kind] ?? 5) <= 3 ? ".urgent" : ""), { "data-kind": item.kind, "data-id": item.id },
      el("td", {}, el("span.kind.s-" + shape, {}, el("span.icon", { "aria-hidden": "true" }), t("alarm." + item.kind))),
      el("td", {}, el("a", { href: url("lane_page", { lane_id: item.lane_id }), text: item.lane_id })),
      el("td", { text: fmtTime(item.since, null, true) }),
      el("td", { text: t("alarm_state." + item.state) }),
      el("td", { text: item.detail }),
      el("td", {}, el("div.actions", {}, actions)));
  }

  async function load() {
    try {
      const [alarms, referrals] = await Promise.all([
        api("GET", url("alarms")),
        api("GET", url("referrals"))]);
      const list = items(alarms.alarms || alarms, referrals.referrals || referrals)
        .filter((i) => showShelved.checked || i.state !== "shelved");
      setAlarmCount(list.filter((i) => i.type === "alarm" && i.state === "active").length);
      if (!list.length) { notice(root, "info", t("exceptions.empty")); return; }
      root.replaceChildren(el("table", {},
        el("caption.visually-hidden", { text: t("exceptions.title") }),
        el("thead", {}, el("tr", {}, ["exceptions.kind", "exceptions.lane", "exceptions.since", "exceptions.status", "audit.detail", "exceptions.actions"]
          .map((k) => el("th", { scope: "col", text: t(k) })))),
        el("tbody", {}, list.map(row))));
    } catch (e) { notice(root, "error", t("common.error", { detail: e.message })); }
  }

  showShelved.addEventListener("change", load);
  load();
  let pending = null;
  const soon = () => { if (!pending) pending = setTimeout(() => { pending = null; load(); }, 200); };
  stream({ alarm: soon, referral: soon }, () => {});
  window.egate.exceptions = { items, urgency };
})();
