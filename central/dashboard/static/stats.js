/* Statistics page: fetches the statistics API, draws the charts, exports CSV.
   Own work, Apache-2.0. */
"use strict";
(function () {
  const { cfg, t, el, api, url, notice, fmtTime } = window.egate;
  const { stacked, hbars } = window.egate.charts;
  const root = document.getElementById("stats");
  const form = document.getElementById("stats-form");
  const exportBtn = document.getElementById("export-csv");
  const DECISIONS = ["accepted", "rejected", "referred", "aborted"];
  let last = null;

  function label(iso, daily) {
    const s = fmtTime(iso, cfg.timezone, true);
    return daily ? s.slice(0, 10) : s.slice(11, 16) ;
  }

  function byDecision(rows, daily) {
    const labels = rows.map((r) => label(r.start || r.hour || r.day, daily));
    const series = DECISIONS.map((d) => ({ name: t("decision." + d), values: rows.map((r) => (r.by_decision || r)[d] || 0) }));
    return { labels, series };
  }

  function render(s) {
    last = s;
    const parts = [];
    const hourly = s.hourly || s.by_hour || [];
    const daily = s.daily || s.by_day || [];
    if (!hourly.length && !daily.length) { notice(root, "info", t("stats.no_data")); return; }
    if (hourly.length) { const d = byDecision(hourly, false); parts.push(stacked(t("stats.by_hour"), d.labels, d.series, t("stats.table"))); }
    if (daily.length) { const d = byDecision(daily, true); parts.push(stacked(t("stats.by_day"), d.labels, d.series, t("stats.table"))); }
    const ports = s.by_port || [];
    if (ports.length) parts.push(hbars(t("stats.by_port"), ports.map((p) => ({ label: p.port, value: p.passages ?? p.count ?? 0 })), { tableCaption: t("stats.table") }));
    const reasons = s.referral_reasons || [];
    if (reasons.length) parts.push(hbars(t("stats.reasons"), reasons.map((r) => ({ label: r.code || r.reason, value: r.count, cls: 2 })), { tableCaption: t("stats.table") }));
    const pt = s.passage_time || {};
    if ((pt.histogram || pt.buckets || []).length) {
      const b = pt.histogram || pt.buckets;
      const fig = stacked(t("stats.passage_time"), b.map((x) => "≤" + (x.le ?? x.upper ?? x.seconds)), [{ name: t("lanes.passages", { count: "" }).trim(), values: b.map((x) => x.count) }], t("stats.table"));
      fig.querySelector("figcaption").append(el("p.muted", { text: [pt.median_s != null ? t("stats.median", { value: Number(pt.median_s).toFixed(1) }) : "", pt.p95_s != null ? t("stats.p95", { value: Number(pt.p95_s).toFixed(1) }) : ""].filter(Boolean).join(" · ") }));
      parts.push(fig);
    }
    const yoy = s.year_over_year || s.usage;
    if (yoy) {
      const cur = yoy.current ?? yoy.this_period ?? 0, prev = yoy.previous ?? yoy.year_earlier ?? 0;
      const change = prev ? ((cur - prev) / prev) : null;
      const fig = hbars(t("stats.yoy"), [{ label: t("stats.this_year"), value: cur, cls: 4 }, { label: t("stats.last_year"), value: prev, cls: 3 }], { tableCaption: t("stats.table") });
      if (change !== null) fig.querySelector("figcaption").append(el("p", { "data-testid": "yoy-change", text: t("stats.change", { value: (change >= 0 ? "+" : "") + (100 * change).toFixed(1) + " %" }) }));
      parts.push(fig);
    }
    const av = s.availability || [];
    if (av.length) parts.push(hbars(t("stats.availability"), av.map((a) => ({ label: a.lane_id, value: a.availability ?? a.ratio ?? 0, cls: 0 })),
      { max: 1, format: (v) => (100 * v).toFixed(1) + " %", tableCaption: t("stats.table") }));
    root.replaceChildren(el("div.charts", {}, parts));
  }

  /* One CSV with a "section" column, so every figure on the page is in the file. */
  function csv(s) {
    const rows = [["section", "key", "name", "value"]];
    const put = (sec, key, name, v) => rows.push([sec, key, name, v]);
    for (const [sec, list] of [["hourly", s.hourly || s.by_hour || []], ["daily", s.daily || s.by_day || []]]) {
      for (const r of list) for (const d of DECISIONS) put(sec, r.start || r.hour || r.day, d, (r.by_decision || r)[d] || 0);
    }
    for (const p of s.by_port || []) put("by_port", p.port, "passages", p.passages ?? p.count ?? 0);
    for (const r of s.referral_reasons || []) put("referral_reasons", r.code || r.reason, "count", r.count);
    const pt = s.passage_time || {};
    for (const b of pt.histogram || pt.buckets || []) put("passage_time", b.le ?? b.upper ?? b.seconds, "count", b.count);
    if (pt.median_s != null) put("passage_time", "median_s", "", pt.median_s);
    if (pt.p95_s != null) put("passage_time", "p95_s", "", pt.p95_s);
    const yoy = s.year_over_year || s.usage;
    if (yoy) { put("year_over_year", "current", "", yoy.current ?? yoy.this_period ?? 0); put("year_over_year", "previous", "", yoy.previous ?? yoy.year_earlier ?? 0); }
    for (const a of s.availability || []) put("availability", a.lane_id, "ratio", a.availability ?? a.ratio ?? 0);
    const cell = (c) => { const v = String(c ?? ""); return /[",\n\r]/.test(v) || /^[=+\-@]/.test(v) ? '"' + v.replace(/"/g, '""').replace(/^([=+\-@])/, "'$1") + '"' : v; };
    return rows.map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
  }

  async function load() {
    const params = new URLSearchParams(new FormData(form));
    for (const [k, v] of [...params.entries()]) if (!v) params.delete(k);
    try { render(await api("GET", url("stats") + (params.toString() ? "?" + params : ""))); }
    catch (e) { notice(root, "error", t("common.error", { detail: e.message })); }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  exportBtn.addEventListener("click", () => {
    if (!last) return;
    const blob = new Blob([csv(last)], { type: "text/csv;charset=utf-8" });
    const a = el("a", { href: URL.createObjectURL(blob), download: "egate-statistics.csv" });
    document.body.append(a); a.click(); a.remove();
  });
  load();
  window.egate.stats = { csv, render };
})();
