/* Lanes page: one tile per lane, grouped by port and terminal, updated live over SSE.
   Own work, Apache-2.0. */
"use strict";
(function () {
  const { cfg, t, el, api, url, toMs, tzOf, fmtTime, notice, stream, soundToggle, setAlarmCount, beep } = window.egate;
  const root = document.getElementById("lanes");
  const summary = document.getElementById("lanes-summary");
  const live = document.getElementById("live");
  const problems = document.getElementById("lanes-problems");
  const lanes = new Map();
  const alarms = new Map();     // alarm_id -> alarm (not cleared, not shelved)
  const referrals = new Map();  // transaction_id -> pending referral
  let skew = 0; // server clock minus browser clock, ms

  const OPEN_ALARM = new Set(["active", "acknowledged"]);
  function laneAlarms(id) { return [...alarms.values()].filter((a) => a.lane_id === id); }
  function laneReferrals(id) { return [...referrals.values()].filter((r) => r.lane_id === id); }

  /* The state a tile shows, most urgent first. */
  function displayState(l) {
    if (!l.online) return "offline";
    if (l.state === "emergency") return "emergency";
    if (laneAlarms(l.lane_id).length > 0) return "alarm";
    if (laneReferrals(l.lane_id).length > 0) return "referred";
    if (l.state === "out_of_service" || l.state === "stopped") return "out_of_service";
    if (l.state === "fault" || faults(l).length) return "fault";
    if (l.state === "busy") return "busy";
    if (l.state === "starting") return "starting";
    return "idle";
  }
  function faults(l) {
    return Object.entries(l.devices || {}).filter(([, s]) => s && s !== "ok").map(([d]) => d);
  }
  /* Offline within 3 heartbeat periods even when no event says so. */
  function stale(l) {
    const last = toMs(l.last_heartbeat_at);
    if (isNaN(last)) return true;
    const period = Number(l.heartbeat_period_seconds || cfg.heartbeat_period_seconds || 5) * 1000;
    return Date.now() + skew - last > Number(cfg.offline_after_periods || 3) * period;
  }

  function tile(l) {
    const state = displayState(l);
    const f = faults(l);
    const doors = l.doors || {};
    const door = (d) => t("door." + (doors[d] || "unknown"));
    const kinds = [...new Set(laneAlarms(l.lane_id).map((a) => t("alarm." + a.kind)))].join(", ");
    const tz = tzOf(l.port);
    return el("a.tile.s-" + state, { href: url("lane_page", { lane_id: l.lane_id }), id: "lane-" + l.lane_id,
        "data-lane": l.lane_id, "data-state": state },
      el("div.head", {}, el("span.name", { text: l.name || l.lane_id }),
        el("span.state", {}, el("span.icon", { "aria-hidden": "true" }), t("state." + state))),
      el("dl", {},
        kinds ? [el("dt", { text: t("nav.exceptions") }), el("dd.faults", { text: kinds })] : null,
        el("dt", { text: t("lanes.step") }), el("dd", { text: t("step." + (l.step || "none")) }),
        el("dt", { text: t("lanes.doors") }), el("dd", { text: t("lanes.doors_value", { entry: door("entry"), exit: door("exit") }) }),
        el("dt", { text: t("lanes.throughput") }), el("dd", { text: t("lanes.passages", { count: l.passages_last_hour || 0 }) }),
        el("dt", { text: t("lanes.devices") }),
        f.length ? el("dd.faults", { text: f.map((d) => t("device." + d) + ": " + t("device." + (l.devices[d] === "unknown" ? "unknown" : "fault"))).join(", ") })
                 : el("dd", { text: t("lanes.devices_ok") }),
        state === "offline" ? [el("dt", { text: t("lanes.last_seen") }), el("dd", { text: fmtTime(l.last_heartbeat_at, tz) })] : null));
  }

  function render() {
    const ports = new Map();
    for (const l of [...lanes.values()].sort((a, b) => String(a.lane_id).localeCompare(String(b.lane_id), undefined, { numeric: true }))) {
      const p = l.port || "—", term = l.terminal || "";
      if (!ports.has(p)) ports.set(p, new Map());
      if (!ports.get(p).has(term)) ports.get(p).set(term, []);
      ports.get(p).get(term).push(l);
    }
    if (!lanes.size) { notice(root, "info", t("lanes.empty")); updateSummary(); return; }
    const sections = [];
    for (const [port, terms] of [...ports.entries()].sort()) {
      const sec = el("section.port", { "aria-labelledby": "port-" + port }, el("h2", { id: "port-" + port, text: port }));
      for (const [term, list] of [...terms.entries()].sort()) {
        sec.append(el("div.terminal", {}, term ? el("h3", { text: t("lanes.terminal", { terminal: term }) }) : null,
          el("ul.tiles", {}, list.map((l) => el("li", {}, tile(l))))));
      }
      sections.push(sec);
    }
    root.replaceChildren(...sections);
    updateSummary();
  }

  function updateSummary() {
    let alarming = 0, referred = 0, offline = 0;
    for (const l of lanes.values()) {
      const s = displayState(l);
      if (s === "alarm" || s === "emergency") alarming++;
      if (s === "referred") referred++;
      if (s === "offline") offline++;
    }
    summary.textContent = t("lanes.summary", { total: lanes.size, alarms: alarming, referred, offline });
    setAlarmCount([...alarms.values()].filter((a) => a.state === "active").length);
  }

  function update(l) {
    if (!l || !l.lane_id) return;
    const old = lanes.get(l.lane_id);
    const merged = Object.assign({}, old || {}, l);
    if (l.online === undefined) merged.online = !stale(merged);
    lanes.set(l.lane_id, merged);
    const node = document.getElementById("lane-" + l.lane_id);
    if (!old || !node || (old.port !== merged.port) || (old.terminal !== merged.terminal)) { render(); return; }
    const before = node.dataset.state;
    const fresh = tile(merged);
    const hadFocus = document.activeElement === node;
    node.replaceWith(fresh);
    if (hadFocus) fresh.focus();
    if (fresh.dataset.state === "alarm" && before !== "alarm") beep();
    updateSummary();
  }

  function onAlarm(a) {
    if (!a || a.alarm_id === undefined) return;
    if (OPEN_ALARM.has(a.state)) alarms.set(a.alarm_id, a); else alarms.delete(a.alarm_id);
    refresh(a.lane_id);
  }
  function onReferral(r) {
    if (!r || !r.transaction_id) return;
    if (r.status === "pending") referrals.set(r.transaction_id, r); else referrals.delete(r.transaction_id);
    refresh(r.lane_id);
  }
  function refresh(id) { const l = lanes.get(id); if (l) update({ lane_id: id, online: l.online }); }

  async function load() {
    try {
      // Alarms and referrals colour the tiles; without them the lanes still show.
      const soft = (p) => p.catch((e) => { notice(problems, "error", t("common.error", { detail: e.message })); return []; });
      const [data, al, rf] = await Promise.all([api("GET", url("lanes")), soft(api("GET", url("alarms"))), soft(api("GET", url("referrals")))]);
      const list = Array.isArray(data) ? data : data.lanes || [];
      if (data && data.server_time) skew = toMs(data.server_time) - Date.now();
      lanes.clear(); alarms.clear(); referrals.clear();
      for (const a of al.alarms || al) if (OPEN_ALARM.has(a.state)) alarms.set(a.alarm_id, a);
      for (const r of rf.referrals || rf) if (!r.status || r.status === "pending") referrals.set(r.transaction_id, r);
      for (const l of list) lanes.set(l.lane_id, Object.assign(l, { online: l.online && !stale(l) }));
      render();
    } catch (e) { notice(root, "error", t("common.error", { detail: e.message })); }
  }

  function setLive(ok) {
    live.classList.toggle("down", !ok);
    live.querySelector(".text").textContent = ok ? t("lanes.live") : t("lanes.reconnecting");
    if (ok) load();
  }

  soundToggle(document.getElementById("sound"));
  load();
  /* Passages of the last hour: counted up live from ingested transactions; the full re-read
     every minute lets old ones age out of the window. */
  function onIngest(m) {
    const l = lanes.get(m.lane_id);
    if (!l || !Array.isArray(m.events)) return;
    const hourAgo = Date.now() + skew - 3600 * 1000;
    const n = m.events.filter((e) => e.type === "transaction" && toMs(e.occurred_at) >= hourAgo).length;
    if (n) update({ lane_id: m.lane_id, online: l.online, passages_last_hour: (l.passages_last_hour || 0) + n });
  }
  setInterval(load, 60000);

  stream({ lane: update, alarm: onAlarm, referral: onReferral, ingest: onIngest }, setLive);
  // Heartbeats stop without any event: re-check staleness every second. The service only
  // sends a lane when something visible changed, so a lane marked offline here is re-read
  // (at most every 3 s) in case its heartbeats came back without a change.
  let lastReload = 0;
  setInterval(() => {
    let anyOffline = false;
    for (const l of lanes.values()) {
      if (l.online !== false && stale(l)) update(Object.assign({}, l, { online: false }));
      if (l.online === false) anyOffline = true;
    }
    if (anyOffline && Date.now() - lastReload > 3000) { lastReload = Date.now(); load(); }
  }, 1000);
  window.egate.lanes = { update, displayState, lanes };
})();
