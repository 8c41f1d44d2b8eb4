// uedflow explorer: draws the views of uedflow.report.views on canvases. No network, no library.
// Every plot keeps what it drew in window.uedflowPlots[id] (series of x, y, err), so a test can read it back.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("uedflow-data").textContent);
  const cache = new Map();
  function arr(p) {  // packed float32 (base64) -> Float32Array, decoded once
    if (!p) return null;
    if (!cache.has(p)) {
      const bin = atob(p.f32), bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      cache.set(p, new Float32Array(bytes.buffer));
    }
    return cache.get(p);
  }
  function row(p, i) { const n = p.shape[p.shape.length - 1]; return arr(p).subarray(i * n, (i + 1) * n); }
  const $ = (id) => document.getElementById(id);
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
  const fmt = (v) => (v === null || v === undefined || !isFinite(v)) ? "—" :
    (Math.abs(v) !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(3) : v.toPrecision(4));
  const pm = (v, e) => fmt(v) + " ± " + fmt(e);
  window.uedflowPlots = {};

  // ---- one generic x-y plot -------------------------------------------------------------------------------
  function niceTicks(lo, hi, n) {
    const span = hi - lo || Math.abs(hi) || 1, raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= n) || 10 * mag;
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) out.push(t);
    return out;
  }
  function plot(id, spec) {
    const cv = $(id), g = cv.getContext("2d"), W = cv.width, H = cv.height;
    const m = {l: 70, r: 12, t: 22, b: 38};
    let xs = [], ys = [];
    for (const s of spec.series) for (let i = 0; i < s.x.length; i++) {
      const y = s.y[i], e = s.err ? s.err[i] : 0;
      if (isFinite(s.x[i]) && isFinite(y)) { xs.push(s.x[i]); ys.push(y - (isFinite(e) ? e : 0), y + (isFinite(e) ? e : 0)); }
    }
    let x0 = spec.xlim ? spec.xlim[0] : Math.min(...xs), x1 = spec.xlim ? spec.xlim[1] : Math.max(...xs);
    let y0 = Math.min(...ys), y1 = Math.max(...ys);
    if (!isFinite(x0)) { x0 = 0; x1 = 1; }
    if (!isFinite(y0)) { y0 = 0; y1 = 1; }
    if (x1 === x0) { x0 -= 0.5; x1 += 0.5; }
    if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
    const pad = 0.05 * (y1 - y0); y0 -= pad; y1 += pad;
    const X = (x) => m.l + (x - x0) / (x1 - x0) * (W - m.l - m.r), Y = (y) => H - m.b - (y - y0) / (y1 - y0) * (H - m.t - m.b);
    g.clearRect(0, 0, W, H);
    g.font = "11px sans-serif"; g.fillStyle = "#333"; g.strokeStyle = "#ccc"; g.lineWidth = 1;
    for (const t of niceTicks(x0, x1, 8)) { g.beginPath(); g.moveTo(X(t), H - m.b); g.lineTo(X(t), H - m.b + 4); g.stroke(); g.textAlign = "center"; g.fillText(+t.toPrecision(6), X(t), H - m.b + 15); }
    for (const t of niceTicks(y0, y1, 5)) { g.beginPath(); g.moveTo(m.l - 4, Y(t)); g.lineTo(W - m.r, Y(t)); g.stroke(); g.textAlign = "right"; g.fillText(+t.toPrecision(4), m.l - 6, Y(t) + 4); }
    g.strokeStyle = "#333"; g.strokeRect(m.l, m.t, W - m.l - m.r, H - m.t - m.b);
    g.textAlign = "center"; g.fillText(spec.xlabel || "", (m.l + W - m.r) / 2, H - 6);
    g.save(); g.translate(12, (m.t + H - m.b) / 2); g.rotate(-Math.PI / 2); g.fillText(spec.ylabel || "", 0, 0); g.restore();
    if (spec.title) { g.textAlign = "left"; g.font = "bold 12px sans-serif"; g.fillText(spec.title, m.l, 14); g.font = "11px sans-serif"; }
    g.save(); g.beginPath(); g.rect(m.l, m.t, W - m.l - m.r, H - m.t - m.b); g.clip();
    if (spec.zero) { g.strokeStyle = "#999"; g.setLineDash([2, 2]); g.beginPath(); g.moveTo(m.l, Y(0)); g.lineTo(W - m.r, Y(0)); g.stroke(); g.setLineDash([]); }
    if (spec.vline !== undefined) { g.strokeStyle = "#f0a000"; g.lineWidth = 2; g.beginPath(); g.moveTo(X(spec.vline), m.t); g.lineTo(X(spec.vline), H - m.b); g.stroke(); g.lineWidth = 1; }
    for (const mk of spec.markers || []) {
      g.strokeStyle = mk.selected ? "#d62728" : "#bbb"; g.fillStyle = g.strokeStyle;
      g.beginPath(); g.moveTo(X(mk.x), m.t); g.lineTo(X(mk.x), m.t + 10); g.stroke(); g.textAlign = "center"; g.fillText(mk.label, X(mk.x), m.t + 20);
    }
    for (const s of spec.series) {
      g.strokeStyle = g.fillStyle = s.color || "#000"; g.setLineDash(s.dash || []);
      if (s.band) {
        g.globalAlpha = 0.25; g.beginPath(); let started = false;
        for (let i = 0; i < s.x.length; i++) if (isFinite(s.y[i] + s.err[i])) { started ? g.lineTo(X(s.x[i]), Y(s.y[i] + s.err[i])) : g.moveTo(X(s.x[i]), Y(s.y[i] + s.err[i])); started = true; }
        for (let i = s.x.length - 1; i >= 0; i--) if (isFinite(s.y[i] + s.err[i])) g.lineTo(X(s.x[i]), Y(s.y[i] - s.err[i]));
        g.fill(); g.globalAlpha = 1;
      }
      if (s.kind === "pts") {
        for (let i = 0; i < s.x.length; i++) {
          if (!isFinite(s.y[i])) continue;
          const px = X(s.x[i]), py = Y(s.y[i]);
          if (s.err && isFinite(s.err[i])) { g.beginPath(); g.moveTo(px, Y(s.y[i] - s.err[i])); g.lineTo(px, Y(s.y[i] + s.err[i])); g.stroke(); }
          g.beginPath(); g.arc(px, py, s.size || 3, 0, 2 * Math.PI); s.hollow ? g.stroke() : g.fill();
        }
      } else {
        g.lineWidth = s.width || 1.3; g.beginPath(); let pen = false;
        for (let i = 0; i < s.x.length; i++) {
          if (!isFinite(s.y[i])) { pen = false; continue; }
          pen ? g.lineTo(X(s.x[i]), Y(s.y[i])) : g.moveTo(X(s.x[i]), Y(s.y[i])); pen = true;
        }
        g.stroke(); g.lineWidth = 1;
      }
      g.setLineDash([]);
    }
    g.restore();
    let ly = m.t + 14; g.textAlign = "right";  // legend: one line per named series, top right inside the axes
    for (const s of spec.series) if (s.name) { g.fillStyle = "rgba(255,255,255,0.8)"; g.fillRect(W - m.r - 10 - g.measureText(s.name).width, ly - 11, g.measureText(s.name).width + 8, 14);
      g.fillStyle = s.color || "#000"; g.fillText(s.name, W - m.r - 6, ly); ly += 14; }
    const rec = {series: spec.series.map((s) => ({name: s.name || "", x: Array.from(s.x), y: Array.from(s.y), err: s.err ? Array.from(s.err) : null})),
      at: (x, y) => { const r = cv.getBoundingClientRect(), f = r.width / W; return [r.left + X(x) * f, r.top + Y(y) * f]; },
      pixel: (k, i) => rec.at(spec.series[k].x[i], spec.series[k].y[i]),
      xdata: (px) => x0 + (px - m.l) / (W - m.l - m.r) * (x1 - x0)};
    window.uedflowPlots[id] = rec; cv._spec = spec; cv._rec = rec; cv._X = X; cv._Y = Y;
    return rec;
  }
  function hover(id) {  // tooltip of the nearest point of a "pts" series with a hover text
    const cv = $(id), tip = $("tip");
    cv.addEventListener("mousemove", (ev) => {
      const spec = cv._spec; if (!spec) return;
      const r = cv.getBoundingClientRect(), f = cv.width / r.width, mx = (ev.clientX - r.left) * f, my = (ev.clientY - r.top) * f;
      let best = null, bd = 64;
      spec.series.forEach((s) => { if (!s.hover) return; for (let i = 0; i < s.x.length; i++) {
        if (!isFinite(s.y[i])) continue;
        const d = (cv._X(s.x[i]) - mx) ** 2 + (cv._Y(s.y[i]) - my) ** 2; if (d < bd) { bd = d; best = [s, i]; } } });
      if (!best) { tip.style.display = "none"; return; }
      tip.textContent = best[0].hover(best[1]); tip.style.display = "block";
      tip.style.left = (ev.pageX + 12) + "px"; tip.style.top = (ev.pageY + 12) + "px";
    });
    cv.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  }

  // ---- state -------------------------------------------------------------------------------------------------
  const P = D.profile, S = D.samples, first = S.length ? S[0] : null;
  const state = {delay: 0, ring: 0, scans: false};
  const saved = new URLSearchParams(location.hash.slice(1));  // kept across the live page's reloads
  if (saved.has("d")) state.delay = +saved.get("d");
  if (saved.has("r")) state.ring = +saved.get("r");
  function keep() { history.replaceState(null, "", "#d=" + state.delay + "&r=" + state.ring); }

  // ---- profiles at the chosen delay ---------------------------------------------------------------------------
  function drawProfiles() {
    if (!P) return;
    const i = state.delay, s = P.s, d = P.delay[i];
    $("delay-label").textContent = "delay " + fmt(d) + " ps (" + (i + 1) + " of " + P.delay.length + ")";
    const ser = [{name: "reference", x: s, y: arr(P.reference), color: "#999"},
      {name: "I(s) at " + fmt(d) + " ps", x: s, y: row(P.intensity, i), color: COLORS[0]}];
    if (P.fit_model) {
      ser.push({name: "fit", x: s, y: row(P.fit_model, i), color: COLORS[1], dash: [5, 3]});
      ser.push({name: "background", x: s, y: row(P.fit_background, i), color: COLORS[2]});
    }
    const markers = P.rings.map((r, k) => ({x: r.s0, label: r.hkl, selected: k === state.ring}));
    plot("profile", {xlabel: "s (1/Å)", ylabel: "I (" + P.units + ")", series: ser, markers: markers, xlim: [s[0], s[s.length - 1]]});
    plot("differential", {xlabel: "s (1/Å)", ylabel: "ΔI", zero: true, xlim: [s[0], s[s.length - 1]], markers: markers,
      series: [{name: "ΔI(s) ± 1σ", x: s, y: row(P.differential, i), err: row(P.sigma, i), band: true, color: COLORS[0]}]});
    if (P.fit_model) {
      const I = row(P.intensity, i), F = row(P.fit_model, i), res = new Float32Array(I.length);
      for (let k = 0; k < I.length; k++) res[k] = I[k] - F[k];
      plot("residual", {xlabel: "s (1/Å)", ylabel: "I − fit", zero: true, xlim: [s[0], s[s.length - 1]],
        series: [{name: "residual ± 1σ", x: s, y: res, err: row(P.sigma, i), band: true, color: COLORS[3]}]});
    }
    drawDelayPattern();
  }
  function ringAt(canvasId, ev) {  // click on the profile: nearest ring marker within 1 % of the s range
    const cv = $(canvasId), r = cv.getBoundingClientRect(), x = cv._rec.xdata((ev.clientX - r.left) * cv.width / r.width);
    let best = -1, bd = 0.01 * (P.s[P.s.length - 1] - P.s[0]) + 1e-12;
    P.rings.forEach((rg, k) => { if (Math.abs(rg.s0 - x) < bd) { bd = Math.abs(rg.s0 - x); best = k; } });
    return best;
  }

  // ---- 2D patterns ----------------------------------------------------------------------------------------------
  const PT = D.pattern;
  function image(id, values, valid, lim) {
    const [h, w] = PT.diff.shape, cv = $(id), g = cv.getContext("2d"), img = g.createImageData(w, h);
    for (let k = 0; k < w * h; k++) {
      const v = values[k], j = 4 * k;
      if (!(valid[k] >= 0.5) || !isFinite(v)) { img.data[j] = img.data[j + 1] = img.data[j + 2] = 200; img.data[j + 3] = 255; continue; }
      const t = Math.max(-1, Math.min(1, v / lim));  // blue (negative) - white - red (positive)
      img.data[j] = t > 0 ? 255 : Math.round(255 * (1 + t)); img.data[j + 2] = t < 0 ? 255 : Math.round(255 * (1 - t));
      img.data[j + 1] = Math.round(255 * (1 - Math.abs(t))); img.data[j + 3] = 255;
    }
    const off = document.createElement("canvas"); off.width = w; off.height = h; off.getContext("2d").putImageData(img, 0, 0);
    g.imageSmoothingEnabled = false; g.clearRect(0, 0, cv.width, cv.height); g.drawImage(off, 0, 0, cv.width, cv.height);
    const f = cv.width / (w * PT.factor), [cr, cc] = PT.center_rc;  // centre cross, file pixels -> canvas
    g.strokeStyle = "#000"; g.lineWidth = 1.5; g.beginPath();
    g.moveTo((cc + 0.5) * f - 8, (cr + 0.5) * f); g.lineTo((cc + 0.5) * f + 8, (cr + 0.5) * f);
    g.moveTo((cc + 0.5) * f, (cr + 0.5) * f - 8); g.lineTo((cc + 0.5) * f, (cr + 0.5) * f + 8); g.stroke();
  }
  function limit(values, valid, all) {  // 99th percentile of |values| over valid pixels (or every value): the colour scale
    const a = []; for (let k = 0; k < values.length; k += 7) if ((all || valid[k] >= 0.5) && isFinite(values[k])) a.push(Math.abs(values[k]));
    a.sort((p, q) => p - q); return a.length ? a[Math.floor(0.99 * (a.length - 1))] || 1 : 1;
  }
  let binOf = null, dlim = null;  // one colour scale for every delay, so growth shows
  function drawDelayPattern() {  // ΔI(s) of this delay mapped onto the detector through the s of each pixel
    if (!PT || !P) return;
    const smap = arr(PT.s_map), valid = arr(PT.valid), s = P.s;
    if (!binOf) {
      binOf = new Int32Array(smap.length);
      const ds = (s[s.length - 1] - s[0]) / (s.length - 1);
      for (let k = 0; k < smap.length; k++) { const b = Math.round((smap[k] - s[0]) / ds); binOf[k] = b >= 0 && b < s.length ? b : -1; }
    }
    const dI = row(P.differential, state.delay), out = new Float32Array(smap.length);
    for (let k = 0; k < out.length; k++) out[k] = binOf[k] >= 0 ? dI[binOf[k]] : NaN;
    if (dlim === null) { const all = arr(P.differential); dlim = limit(all, null, true); }
    image("pattern-delay", out, valid, dlim);
  }
  function drawMeasuredPattern() {
    if (!PT) return;
    const diff = arr(PT.diff), valid = arr(PT.valid);
    image("pattern-measured", diff, valid, limit(diff, valid));
  }

  // ---- traces ---------------------------------------------------------------------------------------------------
  const OBS = ["strain", "msd", "width", "intensity"];
  function drawTraces() {
    if (!first) return;
    const k = state.ring, ring = first.rings[k];
    $("ring").value = k;
    const vline = P ? P.delay[state.delay] : undefined;
    for (const o of OBS) {
      const [lab, unit] = first.observables[o], ser = [];
      S.forEach((smp, n) => {
        const j = smp.rings.findIndex((r) => r.hkl === ring.hkl); if (j < 0) return;
        const r = smp.rings[j], fit = r[o], c = COLORS[n % COLORS.length], tag = S.length > 1 ? smp.label + " " : "";
        const y = row(smp[o], j), e = row(smp[o + "_err"], j);
        ser.push({name: tag + "(" + r.hkl + ")", x: smp.delay, y: y, err: e, kind: "pts", color: c,
          hover: (i) => (tag + "(" + r.hkl + ") " + lab + " = " + pm(y[i], e[i]) + (unit !== "1" ? " " + unit : "") + " at " + fmt(smp.delay[i]) +
            " ps; τ = " + pm(fit.tau_ps, fit.tau_err_ps) + " ps")});
        ser.push({name: "", x: smp.delay, y: row(smp[o + "_fit"], j), color: c, dash: fit.success ? [] : [2, 3]});
        if (state.scans && smp.scans.length) smp.scans.forEach((sc, q) => {
          const p = smp["scan_" + o], n1 = p.shape[1], n2 = p.shape[2], ys = arr(p).subarray((q * n1 + j) * n2, (q * n1 + j + 1) * n2);
          ser.push({name: n === 0 ? "scan " + sc : "", x: smp.delay, y: ys, kind: "pts", hollow: true, size: 2.5, color: COLORS[(q + 4) % COLORS.length],
            hover: (i) => "scan " + sc + " (" + r.hkl + ") " + lab + " = " + fmt(ys[i]) + (unit !== "1" ? " " + unit : "") + " at " + fmt(smp.delay[i]) + " ps"});
        });
      });
      const f = ring[o];
      plot("trace-" + o, {xlabel: "delay (ps)", ylabel: lab + (unit !== "1" ? " (" + unit + ")" : ""), series: ser, zero: o !== "intensity",
        vline: vline, title: "(" + ring.hkl + ") " + lab + ": τ = " + pm(f.tau_ps, f.tau_err_ps) + " ps, χ²/dof = " + fmt(f.chi2_red) + (f.success ? "" : " (fit flagged)")});
    }
    drawComparison();
  }
  function drawComparison() {
    const C = D.comparison, t = $("comparison"); if (!C || !t) return;
    const ring = first.rings[state.ring].hkl;
    const rows = C.rows.filter((r) => r.hkl === ring || r.hkl === first.rings[state.ring].family);
    t.innerHTML = "<tr><th>ring</th><th>quantity</th>" + C.labels.map((l) => "<th>" + esc(l) + "</th>").join("") +
      C.labels.slice(1).map((l) => "<th>z, p (" + esc(l) + ")</th>").join("") + "<th>significant</th></tr>" +
      rows.map((r) => "<tr" + (r.significant ? " class=sig" : "") + "><td>" + esc(r.hkl) + "</td><td>" + esc(r.quantity) + " (" + esc(r.unit) + ")</td>" +
        r.values.map((v, n) => "<td>" + pm(v, r.errors[n]) + "</td>").join("") +
        r.z.slice(1).map((z, n) => "<td>" + fmt(z) + ", " + fmt(r.p[n + 1]) + "</td>").join("") + "<td>" + (r.significant ? "yes" : "no") + "</td></tr>").join("");
  }
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));

  // ---- diagnostics ------------------------------------------------------------------------------------------------
  function drawDiagnostics() {
    const G = D.diagnostics; if (!G.scans) return;
    const perScan = (p, name) => G.scans.map((sc, q) => ({name: "scan " + sc, x: G.delay, y: row(p, q), kind: "pts", color: COLORS[q % COLORS.length],
      hover: (i) => "scan " + sc + ", " + fmt(G.delay[i]) + " ps: " + name + " " + fmt(row(p, q)[i])}));
    if (G.center_row) {
      plot("center-row", {xlabel: "delay (ps)", ylabel: "centre row (px)", series: perScan(G.center_row, "row")});
      plot("center-col", {xlabel: "delay (ps)", ylabel: "centre column (px)", series: perScan(G.center_col, "column")});
    } else {
      $("center-text").textContent = "One beam centre for every frame: (row, col) = (" + G.center_rc.map(fmt).join(", ") +
        ") px; per-frame centres are shown once the reduced file records them (center_row, center_col).";
      for (const id of ["center-row", "center-col"]) $(id).style.display = "none";
    }
    plot("dose", {xlabel: "delay (ps)", ylabel: "dose (frame weight, 1 = median)", series: perScan(G.dose, "weight")});
    $("rejected").innerHTML = "<tr><th>scan</th><th>delay (ps)</th><th>why</th></tr>" + (G.rejected.length ? G.rejected.map((r) =>
      "<tr><td>" + r.scan + "</td><td>" + fmt(r.delay_ps) + "</td><td>" + esc(r.reason) + "</td></tr>").join("") : "<tr><td colspan=3>none</td></tr>");
    if (!G.peak_chi2) $("chi2").style.display = "none";
    if (G.kinetic_chi2) {
      if (G.peak_chi2) plot("chi2", {xlabel: "delay (ps)", ylabel: "peak fit χ²/dof", series: G.hkl.map((h, k) => ({name: "(" + h + ")", x: G.peak_delay, y: row(G.peak_chi2, k),
        color: COLORS[k % COLORS.length], kind: "pts", hover: (i) => "(" + h + ") at " + fmt(G.peak_delay[i]) + " ps: χ²/dof = " + fmt(row(G.peak_chi2, k)[i])}))});
      $("kinetic-chi2").innerHTML = "<tr><th>ring</th><th>observable</th><th>χ²/dof</th><th>fit</th></tr>" + G.kinetic_chi2.map((r) =>
        "<tr><td>" + esc(r.hkl) + "</td><td>" + esc(r.observable) + "</td><td>" + fmt(r.chi2_red) + "</td><td>" + (r.success ? "good" : "flagged") + "</td></tr>").join("");
    }
  }

  // ---- wiring -------------------------------------------------------------------------------------------------------
  function setDelay(i) {
    if (!P) return;
    state.delay = Math.max(0, Math.min(P.delay.length - 1, i)); $("slider").value = state.delay; keep();
    drawProfiles(); if (first) drawTraces();
  }
  function setRing(k) { state.ring = k; keep(); if (P) drawProfiles(); drawTraces(); }
  window.uedflow = {data: D, state: state, setDelay: setDelay, setRing: setRing};
  if (P) {
    $("slider").max = P.delay.length - 1;
    $("slider").addEventListener("input", (ev) => setDelay(+ev.target.value));
    document.addEventListener("keydown", (ev) => {
      if (ev.target.tagName === "INPUT" || ev.target.tagName === "SELECT") return;
      if (ev.key === "ArrowRight" || ev.key === "ArrowUp") { setDelay(state.delay + 1); ev.preventDefault(); }
      if (ev.key === "ArrowLeft" || ev.key === "ArrowDown") { setDelay(state.delay - 1); ev.preventDefault(); }
    });
    for (const id of ["profile", "differential"]) $(id).addEventListener("click", (ev) => { const k = ringAt(id, ev); if (k >= 0) setRing(k); });
  }
  if (first) {
    $("ring").innerHTML = first.rings.map((r, k) => "<option value=" + k + ">(" + esc(r.hkl) + ") " + esc(r.family) + "</option>").join("");
    $("ring").addEventListener("change", (ev) => setRing(+ev.target.value));
    $("scans").addEventListener("change", (ev) => { state.scans = ev.target.checked; drawTraces(); });
    for (const o of OBS) hover("trace-" + o);
  }
  for (const id of ["center-row", "center-col", "dose", "chi2"]) hover(id);
  state.ring = Math.min(state.ring, first ? first.rings.length - 1 : 0);
  drawMeasuredPattern(); drawDiagnostics();
  if (P) setDelay(Math.min(state.delay, P.delay.length - 1)); else if (first) drawTraces();
  document.body.dataset.ready = "1";
  if (document.body.dataset.refreshS) setTimeout(() => location.reload(), 1000 * document.body.dataset.refreshS);
})();
