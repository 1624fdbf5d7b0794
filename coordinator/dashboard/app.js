// gptsweep dashboard: a hash-routed page over the coordinator's read-only JSON API.
//   #/                the sweeps
//   #/sweep/NAME      curves (live), optimisation history, importance, parallel coordinates,
//                     slices (analysis.js), the run table (board.js)
//   #/run/ID          one run: parameters, curves, attempts, samples
//   #/compare/1,2,3   the samples of chosen runs side by side
// Every chart container gets data-series (series drawn) and data-ink (coloured pixels of
// its canvas) once ECharts has rendered it: what the browser test checks.
"use strict";

const POLL_MS = 3000;
const main = document.getElementById("main");
const crumbs = document.getElementById("crumbs");
const liveBadge = document.getElementById("live");
let charts = [];
let timer = null;
let generation = 0;
let viewQuery = new URLSearchParams();

// ---- helpers -------------------------------------------------------------------------

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function num(v, digits = 4) {
  if (v === null || v === undefined) return "–";
  if (typeof v !== "number") return esc(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
  return Number(v.toPrecision(digits)).toString();
}

function param(v) {
  return typeof v === "number" ? num(v, 3) : esc(v);
}

function tags(list) {
  return (list || []).map((t) => ` <span class="tag">${esc(t)}</span>`).join("");
}

function state(s) {
  return `<span class="state ${esc(s)}">${esc(s)}</span>`;
}

function ago(ms) {
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return new Date(ms).toISOString().slice(0, 10);
}

function duration(secs) {
  if (!secs) return "–";
  if (secs < 120) return `${secs.toFixed(1)} s`;
  if (secs < 7200) return `${(secs / 60).toFixed(1)} min`;
  return `${(secs / 3600).toFixed(1)} h`;
}

// A running run's live step out of its budget, with the ETA its worker's throughput gives
// (`progress`: reported between evaluations); else the steps of its latest evaluation.
function stepCell(r, steps) {
  const p = r.progress;
  if (!p) return num(steps);
  return `<span class="live">${num(p.step)} / ${num(p.max_iters)}</span> <small>ETA ${duration(p.eta_secs)}</small>`;
}

async function api(path) {
  const res = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (res.status === 401 || res.status === 403) {
    location.href = "/";
    throw new Error("signed out");
  }
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

function setCrumbs(parts) {
  crumbs.innerHTML = parts
    .map(([label, href]) => (href ? `<a href="${href}">${esc(label)}</a>` : `<b>${esc(label)}</b>`))
    .join("<span>/</span>");
}

// Viridis-like ramp: 0 = best (dark blue) .. 1 = worst (yellow).
const RAMP = ["#2d1e6b", "#30478c", "#2a6f8e", "#22928b", "#3bb37a", "#86cf50", "#d8e219"];
function ramp(t) {
  const x = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
  return RAMP[Math.round(x)];
}

function chart(el) {
  const c = echarts.init(el, null, { renderer: "canvas" });
  c.on("finished", () => {
    const canvas = el.querySelector("canvas");
    let ink = 0;
    if (canvas) {
      const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 3; i < data.length; i += 16) if (data[i] > 0) ink++;
    }
    el.dataset.ink = String(ink);
  });
  charts.push(c);
  return c;
}

window.addEventListener("resize", () => charts.forEach((c) => c.resize()));

// ---- router --------------------------------------------------------------------------

function route() {
  generation++;
  clearTimeout(timer);
  charts.forEach((c) => c.dispose());
  charts = [];
  liveBadge.hidden = true;
  document.body.dataset.ready = "";
  // A view's own settings follow a `?` (the run table's sort and filter: a link keeps them).
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const h = decodeURIComponent(path);
  const [view, arg] = [h.split("/")[0], h.split("/").slice(1).join("/")];
  viewQuery = new URLSearchParams(query || "");
  const views = { "": sweepsView, sweep: sweepView, run: runView, compare: compareView };
  const render = views[view] || sweepsView;
  render(arg, generation).catch((e) => {
    if (e.message !== "signed out") main.innerHTML = `<p class="error">${esc(e.message)}</p>`;
  });
}

// Runs `step` now and again every POLL_MS while `more()` holds and the view is current.
// A first failure (an unknown sweep or run) replaces the page with the error; a later one
// (the coordinator restarting) shows above it while polling goes on.
function poll(gen, step, more) {
  let first = true;
  const tick = async () => {
    if (gen !== generation) return;
    try {
      await step();
      showError(null);
    } catch (e) {
      if (e.message === "signed out") return;
      if (first) throw e;
      showError(e.message);
    }
    first = false;
    if (gen !== generation) return;
    liveBadge.hidden = !more();
    if (more()) timer = setTimeout(tick, document.hidden ? POLL_MS * 5 : POLL_MS);
  };
  return tick();
}

function showError(message) {
  let el = document.getElementById("poll-error");
  if (!message) {
    if (el) el.remove();
    return;
  }
  if (!el) {
    el = document.createElement("p");
    el.id = "poll-error";
    el.className = "error";
    main.prepend(el);
  }
  el.textContent = `Not updated: ${message}`;
}

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", route);

// ---- #/ : the sweeps -----------------------------------------------------------------

async function sweepsView(_, gen) {
  setCrumbs([["sweeps"]]);
  let sweeps = [];
  await poll(gen, async () => {
    sweeps = await api("/api/sweeps");
    if (gen !== generation) return;
    if (!sweeps.length) {
      main.innerHTML = `<h1>Sweeps</h1><p class="muted">No sweeps yet: <code>gptsweep submit sweep.yaml</code>.</p>`;
    } else {
      const rows = sweeps
        .map((s) => {
          const r = s.runs;
          const about = s.description ? `<div class="legend">${esc(s.description.split("\n")[0])}</div>` : "";
          return `<tr><td class="name"><a href="#/sweep/${encodeURIComponent(s.name)}">${esc(s.name)}</a>${tags(s.tags)}${about}</td>
          <td>${state(s.state)}</td><td>${esc(s.method)}</td><td>${esc(s.dataset)}</td>
          <td class="num">${r.finished}</td><td class="num">${r.stopped}</td><td class="num">${r.failed}</td>
          <td class="num">${r.running}</td><td class="num">${r.queued}</td><td class="num">${s.proposed} / ${s.run_cap}</td>
          <td class="num">${num(s.best)} <span class="legend">${esc(s.metric)}</span></td>
          <td>${s.best_run ? `<a href="#/run/${s.best_run}">#${s.best_run}</a>` : "–"}</td><td>${ago(s.created_at_ms)}</td></tr>`;
        })
        .join("");
      main.innerHTML = `<h1>Sweeps</h1><div class="scroll"><table id="sweeps"><thead><tr>
        <th>name</th><th>state</th><th>method</th><th>dataset</th><th class="num">finished</th>
        <th class="num">stopped</th><th class="num">failed</th><th class="num">running</th><th class="num">queued</th>
        <th class="num">made / cap</th><th class="num">best</th><th>run</th><th>created</th>
        </tr></thead><tbody>${rows}</tbody></table></div>`;
    }
    document.body.dataset.ready = "sweeps";
  }, () => sweeps.some((s) => s.state === "running"));
}

// ---- #/sweep/NAME --------------------------------------------------------------------

async function sweepView(name, gen) {
  setCrumbs([["sweeps", "#/"], [name]]);
  main.innerHTML = `<h1>${esc(name)}</h1><div id="about" class="about"></div><div id="facts" class="facts"></div>
    <div class="grid2">
      <div class="panel"><h2>Validation loss</h2>
        <div class="controls"><label><input type="checkbox" id="logy"> log scale</label>
        <span class="legend">colour: rank by the metric (dark = best); dashed: stopped early; dotted: failed; ✕ where a run stopped</span></div>
        <div id="curves-val" class="chart"></div></div>
      <div class="panel"><h2>Training loss</h2><div class="controls">&nbsp;</div><div id="curves-train" class="chart"></div></div>
    </div>
    <div class="grid2">
      <div class="panel"><h2>Optimisation history</h2><p id="history-note" class="legend"></p><div id="history" class="chart"></div></div>
      <div class="panel"><h2>Parameter importance</h2><div id="importance"></div></div>
    </div>
    <div class="panel wide-panel"><h2>Parallel coordinates</h2><p id="parallel-note" class="legend"></p><div id="parallel" class="chart tall"></div></div>
    <div class="panel wide-panel"><h2>Slices</h2><p class="legend">the metric against each swept hyperparameter; colour: when the run ended (light = early, dark = late, grey = not yet)</p>
      <div id="slices" class="slices"></div></div>
    <h2>Runs</h2>
    <div class="controls"><button id="compare" class="primary" disabled>Compare samples</button>
      <span class="legend">tick runs to read their samples side by side; click a header to sort</span></div>
    <div id="board"></div>`;
  const valChart = chart(document.getElementById("curves-val"));
  const trainChart = chart(document.getElementById("curves-train"));
  const parChart = chart(document.getElementById("parallel"));
  const historyChart = chart(document.getElementById("history"));
  const compare = document.getElementById("compare");
  const board = makeBoard((chosen) => (compare.disabled = chosen.size === 0), viewQuery);
  compare.onclick = () => (location.hash = `#/compare/${[...board.chosen].join(",")}`);
  let view = null;
  let curves = [];
  const logy = document.getElementById("logy");
  logy.onchange = () => drawCurves(valChart, trainChart, view, curves, logy.checked);

  await poll(gen, async () => {
    [view, curves] = await Promise.all([
      api(`/api/sweeps/${encodeURIComponent(name)}`),
      api(`/api/sweeps/${encodeURIComponent(name)}/curves`),
    ]);
    if (gen !== generation) return;
    const s = view.summary;
    document.getElementById("about").innerHTML = `${tags(s.tags)}${s.description ? `<p>${esc(s.description)}</p>` : ""}`;
    document.getElementById("facts").innerHTML = [
      ["state", state(s.state)],
      ["method", esc(s.method)],
      ["dataset", esc(s.dataset)],
      ["metric", `${esc(s.metric)} (${esc(s.goal)})`],
      ["runs", `${s.runs.finished} finished, ${s.runs.stopped} stopped, ${s.runs.failed} failed, ${s.runs.running} running, ${s.runs.queued} queued`],
      ["best", s.best_run ? `${num(s.best)} (<a href="#/run/${s.best_run}">#${s.best_run}</a>)` : "–"],
      ["evaluations", `${s.evals_stored.toLocaleString("en-US")} / ${s.evals_expected.toLocaleString("en-US")}`],
    ]
      .map(([k, v]) => `<span>${k} <b>${v}</b></span>`)
      .join("");
    drawCurves(valChart, trainChart, view, curves, logy.checked);
    drawHistory(historyChart, view);
    drawParallel(parChart, view);
    drawSlices(view);
    drawImportance(view);
    drawBoard(board, view);
    document.body.dataset.ready = "sweep";
  }, () => view && view.summary.state === "running");
}

// Rank of each run by the metric, 0 (best) .. 1 (worst); runs without a value are grey.
function rankColours(view) {
  const ranked = view.leaderboard.filter((r) => metricOf(view, r) !== null);
  const colours = new Map();
  ranked.forEach((r, i) => colours.set(r.run, ramp(ranked.length > 1 ? i / (ranked.length - 1) : 0)));
  return colours;
}

function metricOf(view, row) {
  const m = view.summary.metric;
  if (m === "val_bpc") return row.best_val_bpc;
  if (m === "train_loss") return row.last_train_loss;
  return row.best_val_loss;
}

function paramText(params) {
  return Object.entries(params)
    .map(([k, v]) => `${esc(k)} ${param(v)}`)
    .join("<br>");
}

function drawCurves(valChart, trainChart, view, curves, logy) {
  const colours = rankColours(view);
  const series = (key) =>
    curves.map((c) => {
      const points = c.steps.map((s, i) => [s, c[key][i]]);
      const ended = c.state === "stopped" || c.state === "failed";
      return {
        name: `#${c.run}`,
        type: "line",
        data: points,
        // A run stopped at its first evaluation has one point: a dot, or nothing shows.
        showSymbol: points.length < 2,
        symbolSize: 5,
        triggerLineEvent: true,
        color: colours.get(c.run) || "#98a2b3",
        lineStyle: { width: 1.6, type: c.state === "stopped" ? "dashed" : c.state === "failed" ? "dotted" : "solid" },
        emphasis: { focus: "series", lineStyle: { width: 3 } },
        endLabel: { show: ended, formatter: "✕", color: "#c62828" },
        runState: c.state,
        runParams: c.params,
      };
    });
  const tooltip = {
    trigger: "item",
    confine: true,
    formatter: (p) => {
      const c = curves[p.seriesIndex];
      const at = Array.isArray(p.value) ? `<br>step ${p.value[0]}: ${num(p.value[1])}` : "";
      return `<b>run #${c.run}</b> (${esc(c.state)})${at}<br>${paramText(c.params)}`;
    },
  };
  const base = (title) => ({
    animation: false,
    grid: { left: 56, right: 24, top: 16, bottom: 40 },
    tooltip,
    xAxis: { type: "value", name: "step", nameLocation: "middle", nameGap: 26, min: 0 },
    yAxis: {
      type: logy ? "log" : "value",
      name: title,
      scale: true,
      // A log axis would otherwise span whole powers of ten and flatten the curves.
      min: logy ? (v) => v.min * 0.97 : undefined,
      max: logy ? (v) => v.max * 1.03 : undefined,
      axisLabel: { formatter: (v) => num(v, 3) },
    },
  });
  valChart.setOption({ ...base("val loss"), series: series("val_loss") }, { notMerge: true });
  trainChart.setOption({ ...base("train loss"), series: series("train_loss") }, { notMerge: true });
  valChart.getDom().dataset.series = String(curves.length);
  trainChart.getDom().dataset.series = String(curves.length);
  valChart.off("click");
  valChart.on("click", (p) => (location.hash = `#/run/${curves[p.seriesIndex].run}`));
}

function drawParallel(parChart, view) {
  const axes = view.axes;
  const note = document.getElementById("parallel-note");
  const rows = view.leaderboard.filter((r) => metricOf(view, r) !== null);
  if (!axes.length) {
    note.textContent = "Nothing is swept in this sweep.";
  } else {
    const waiting = view.leaderboard.length - rows.length;
    note.textContent = `One line per run with a ${view.summary.metric}` + (waiting ? `; ${waiting} runs have none yet.` : ".");
  }
  const parallelAxis = axes.map((a, i) => {
    const axis = { dim: i, name: a.name, nameLocation: "start", nameGap: 18 };
    if (a.scale === "category") return { ...axis, type: "category", data: a.values.map(String) };
    if (a.scale === "log") return { ...axis, type: "log", min: a.min, max: a.max };
    return { ...axis, type: "value", min: a.min, max: a.max };
  });
  const values = rows.map((r) => metricOf(view, r));
  parallelAxis.push({ dim: axes.length, name: view.summary.metric, nameLocation: "start", nameGap: 18, type: "value", scale: true });
  const data = rows.map((r) => ({
    name: `#${r.run}`,
    run: r.run,
    value: axes.map((a) => (a.scale === "category" ? String(r.params[a.name]) : r.params[a.name])).concat([metricOf(view, r)]),
  }));
  parChart.setOption(
    {
      animation: false,
      parallel: { left: 48, right: 120, top: 36, bottom: 36 },
      parallelAxis,
      visualMap: values.length
        ? {
            type: "continuous",
            dimension: axes.length,
            min: Math.min(...values),
            max: Math.max(...values),
            inRange: { color: RAMP },
            right: 0,
            top: "middle",
            itemHeight: 120,
            text: ["worse", "better"],
            precision: 3,
            calculable: true,
          }
        : undefined,
      tooltip: {
        trigger: "item",
        confine: true,
        formatter: (p) => {
          const r = rows[p.dataIndex];
          return `<b>run #${r.run}</b> (${esc(r.state)})<br>${paramText(r.params)}<br>${esc(view.summary.metric)} ${num(metricOf(view, r))}`;
        },
      },
      series: [{ type: "parallel", data, lineStyle: { width: 1.6, opacity: 0.75 }, emphasis: { lineStyle: { width: 3, opacity: 1 } } }],
    },
    { notMerge: true },
  );
  parChart.getDom().dataset.series = "1";
  parChart.getDom().dataset.lines = String(data.length);
  parChart.off("click");
  parChart.on("click", (p) => (location.hash = `#/run/${rows[p.dataIndex].run}`));
}

// ---- #/run/ID ------------------------------------------------------------------------

async function runView(id, gen) {
  setCrumbs([["sweeps", "#/"], ["…"], [`run #${id}`]]);
  main.innerHTML = `<h1 id="run-title">Run #${esc(id)}</h1><p id="run-note" class="run-note" hidden></p><div id="facts" class="facts"></div>
    <div class="grid2"><div class="panel"><h2>Losses</h2><div id="curves-run" class="chart"></div></div>
    <div class="panel"><h2>Hyperparameters</h2><div id="params"></div></div></div>
    <h2>Attempts</h2><div class="scroll" id="attempts"></div>
    <h2>Samples</h2><div id="samples"></div>`;
  const c = chart(document.getElementById("curves-run"));
  let run = null;
  await poll(gen, async () => {
    run = await api(`/api/runs/${encodeURIComponent(id)}`);
    if (gen !== generation) return;
    setCrumbs([["sweeps", "#/"], [run.sweep, `#/sweep/${encodeURIComponent(run.sweep)}`], [`run #${run.run}`]]);
    document.getElementById("run-title").innerHTML = `Run #${run.run}${run.name ? ` <span class="run-name">${esc(run.name)}</span>` : ""}`;
    const note = document.getElementById("run-note");
    note.hidden = !run.note;
    note.textContent = run.note;
    const last = run.evals[run.evals.length - 1];
    const best = run.evals.reduce((b, e) => (b === null || e.val_loss < b.val_loss ? e : b), null);
    document.getElementById("facts").innerHTML = [
      ["state", state(run.state)],
      ["parameters", num(run.num_params)],
      ["steps", run.progress ? stepCell(run) : last ? num(last.step) : "–"],
      ["best val loss", best ? `${num(best.val_loss)} at step ${best.step}` : "–"],
      ["tok/s", run.progress ? num(Math.round(run.progress.tokens_per_sec)) : last ? num(Math.round(last.tokens_per_sec)) : "–"],
    ]
      .map(([k, v]) => `<span>${k} <b>${v}</b></span>`)
      .join("") + (run.error
        ? // A failure is an error; a stop (early, or by a cancel) is an outcome.
          `<span class="${run.state === "failed" ? "error" : "outcome"}">${esc(run.error)}</span>`
        : "");
    const steps = run.evals.map((e) => e.step);
    c.setOption(
      {
        animation: false,
        grid: { left: 56, right: 24, top: 30, bottom: 40 },
        legend: { top: 0 },
        tooltip: { trigger: "axis", valueFormatter: (v) => num(v) },
        xAxis: { type: "value", name: "step", nameLocation: "middle", nameGap: 26, min: 0 },
        yAxis: { type: "value", scale: true, axisLabel: { formatter: (v) => num(v, 3) } },
        series: [
          { name: "train loss", type: "line", showSymbol: false, data: run.evals.map((e, i) => [steps[i], e.train_loss]) },
          { name: "val loss", type: "line", showSymbol: false, data: run.evals.map((e, i) => [steps[i], e.val_loss]) },
        ],
      },
      { notMerge: true },
    );
    c.getDom().dataset.series = "2";
    document.getElementById("params").innerHTML = `<table>${Object.entries(run.hyperparams)
      .map(([k, v]) => `<tr><td>${k in run.swept ? `<b>${esc(k)}</b>` : esc(k)}</td><td class="num">${param(v)}</td></tr>`)
      .join("")}</table><p class="legend">bold: swept</p>`;
    document.getElementById("attempts").innerHTML = run.attempts.length
      ? `<table><thead><tr><th>lease</th><th>worker</th><th>device</th><th>state</th><th class="num">resumed from</th><th>started</th><th>ended</th><th>reason</th></tr></thead><tbody>${run.attempts
          .map(
            (a) => `<tr><td>${a.lease}</td><td>${esc(a.worker)}</td><td>${esc(a.device)}</td><td>${state(a.state)}</td>
            <td class="num">${a.resumed_from ? `step ${a.resumed_from}` : "scratch"}</td><td>${ago(a.started_at_ms)}</td>
            <td>${a.ended_at_ms ? duration((a.ended_at_ms - a.started_at_ms) / 1000) + " later" : "–"}</td><td>${esc(a.reason)}</td></tr>`,
          )
          .join("")}</tbody></table>`
      : `<p class="muted">Not started yet.</p>`;
    document.getElementById("samples").innerHTML = run.samples.length
      ? `<div class="samples">${run.samples
          .map((s) => `<div class="sample"><h3>seed ${s.seed}</h3><pre>${esc(s.prompt)}<b>${esc(s.text)}</b></pre></div>`)
          .join("")}</div>`
      : `<p class="muted">No samples (they are written when a run finishes).</p>`;
    document.body.dataset.ready = "run";
  }, () => run && (run.state === "running" || run.state === "queued"));
}

// ---- #/compare/1,2,3 -----------------------------------------------------------------

async function compareView(ids, gen) {
  const list = ids.split(",").filter((x) => /^\d+$/.test(x));
  setCrumbs([["sweeps", "#/"], ["samples side by side"]]);
  if (!list.length) {
    main.innerHTML = `<p class="error">No runs chosen: tick runs in a sweep's leaderboard.</p>`;
    return;
  }
  const runs = await Promise.all(list.map((id) => api(`/api/runs/${id}`)));
  if (gen !== generation) return;
  setCrumbs([["sweeps", "#/"], [runs[0].sweep, `#/sweep/${encodeURIComponent(runs[0].sweep)}`], ["samples side by side"]]);
  main.innerHTML = `<h1>Samples side by side</h1><div class="samples" id="compare-samples">${runs
    .map((r) => {
      const best = r.evals.reduce((b, e) => (b === null || e.val_loss < b.val_loss ? e : b), null);
      return `<div class="sample"><h3><a href="#/run/${r.run}">run #${r.run}</a>${r.name ? ` ${esc(r.name)}` : ""} ${state(r.state)}
        ${best ? `<span class="muted">val loss ${num(best.val_loss)}</span>` : ""}</h3>
        <p class="legend">${Object.entries(r.swept).map(([k, v]) => `${esc(k)} ${param(v)}`).join(" · ")}</p>
        ${r.samples.length ? r.samples.map((s) => `<pre>${esc(s.prompt)}<b>${esc(s.text)}</b></pre>`).join("") : `<p class="muted">No samples (a run is sampled when it finishes).</p>`}</div>`;
    })
    .join("")}</div>`;
  document.body.dataset.ready = "compare";
}
