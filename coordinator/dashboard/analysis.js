// gptsweep dashboard: the analysis views of a sweep, as Optuna draws them.
//   drawHistory     the metric of each run in the order runs ended, with the best value so
//                   far as a step line (plot_optimization_history)
//   drawSlices      the metric against each swept hyperparameter, a small chart each, on a
//                   log axis for log-scale ranges (plot_slice)
//   drawImportance  PED-ANOVA's shares with their bootstrap spread, and how many runs they
//                   rest on
// Each chart's container says what it drew in data-* attributes (the browser test reads
// them). Loaded before app.js, whose helpers (chart, esc, num, param, metricOf) it uses.
"use strict";

// The runs that ended with a value of the metric, in the order they ended.
function endedRuns(view) {
  return view.leaderboard
    .filter((r) => r.finished_at_ms !== null && r.finished_at_ms !== undefined && metricOf(view, r) !== null)
    .sort((a, b) => a.finished_at_ms - b.finished_at_ms || a.run - b.run);
}

// The best value after each of `values`, for the goal.
function bestSoFar(values, goal) {
  const better = goal === "maximize" ? Math.max : Math.min;
  let best = null;
  return values.map((v) => (best = best === null ? v : better(best, v)));
}

function runLabel(r) {
  return r.name ? `#${r.run} ${esc(r.name)}` : `#${r.run}`;
}

function drawHistory(historyChart, view) {
  const runs = endedRuns(view);
  const values = runs.map((r) => metricOf(view, r));
  const best = bestSoFar(values, view.summary.goal);
  const note = document.getElementById("history-note");
  const waiting = view.leaderboard.length - runs.length;
  note.textContent = runs.length
    ? `${runs.length} runs in the order they ended` + (waiting ? `; ${waiting} not ended yet.` : ".")
    : "No run has ended yet.";
  const metric = view.summary.metric;
  historyChart.setOption(
    {
      animation: false,
      grid: { left: 56, right: 16, top: 30, bottom: 40 },
      legend: { top: 0, data: [metric, "best so far"] },
      tooltip: {
        trigger: "item",
        confine: true,
        formatter: (p) => {
          const r = runs[p.dataIndex];
          const head = `<b>run ${runLabel(r)}</b> (${esc(r.state)}), ended ${p.dataIndex + 1} of ${runs.length}`;
          return p.seriesIndex === 0
            ? `${head}<br>${esc(metric)} ${num(values[p.dataIndex])}<br>${paramText(r.params)}`
            : `${head}<br>best so far ${num(best[p.dataIndex])}`;
        },
      },
      xAxis: { type: "value", name: "run, in the order runs ended", nameLocation: "middle", nameGap: 26, min: 0.5, max: runs.length + 0.5, minInterval: 1, axisLabel: { formatter: (v) => (Number.isInteger(v) ? String(v) : "") } },
      yAxis: { type: "value", scale: true, name: metric, axisLabel: { formatter: (v) => num(v, 3) } },
      series: [
        {
          name: metric,
          type: "scatter",
          symbolSize: 8,
          data: runs.map((r, i) => ({
            value: [i + 1, values[i]],
            itemStyle: { color: r.state === "finished" ? "#2f5bd3" : "#98a2b3" },
          })),
        },
        { name: "best so far", type: "line", step: "end", showSymbol: false, color: "#c62828", lineStyle: { width: 2 }, data: best.map((b, i) => [i + 1, b]) },
      ],
    },
    { notMerge: true },
  );
  const dom = historyChart.getDom();
  dom.dataset.series = "2";
  dom.dataset.runs = runs.map((r) => r.run).join(",");
  dom.dataset.values = values.join(",");
  dom.dataset.best = best.join(",");
  historyChart.off("click");
  historyChart.on("click", (p) => (location.hash = `#/run/${runs[p.dataIndex].run}`));
}

// One small chart per swept hyperparameter: its value against the metric, each run a dot
// coloured by when it ended (light = early, dark = late; grey: not ended).
function drawSlices(view) {
  const host = document.getElementById("slices");
  const axes = view.axes;
  const runs = view.leaderboard.filter((r) => metricOf(view, r) !== null);
  const ended = endedRuns(view);
  const order = new Map(ended.map((r, i) => [r.run, i]));
  if (!axes.length) {
    host.innerHTML = `<p class="muted">Nothing is swept in this sweep.</p>`;
    return;
  }
  const key = axes.map((a) => a.name).join("\n");
  if (host.dataset.axes !== key) {
    host.dataset.axes = key;
    host.innerHTML = axes
      .map((a, i) => `<div class="slice"><div class="slice-title">${esc(a.name)}${a.scale === "log" ? ' <span class="legend">(log)</span>' : ""}</div><div id="slice-${i}" class="chart small" data-param="${esc(a.name)}"></div></div>`)
      .join("");
    host.sliceCharts = axes.map((_, i) => chart(document.getElementById(`slice-${i}`)));
  }
  const metric = view.summary.metric;
  axes.forEach((a, i) => {
    const c = host.sliceCharts[i];
    const points = runs.filter((r) => r.params[a.name] !== undefined);
    const shade = (r) => (order.has(r.run) ? ramp(1 - order.get(r.run) / Math.max(1, ended.length - 1)) : "#98a2b3");
    const xAxis =
      a.scale === "category"
        ? { type: "category", data: a.values.map(String) }
        : { type: a.scale === "log" ? "log" : "value", min: a.min, max: a.max, axisLabel: { formatter: (v) => num(v, 2) } };
    c.setOption(
      {
        animation: false,
        grid: { left: 52, right: 12, top: 10, bottom: 28 },
        tooltip: {
          trigger: "item",
          confine: true,
          formatter: (p) => {
            const r = points[p.dataIndex];
            return `<b>run ${runLabel(r)}</b> (${esc(r.state)})<br>${esc(a.name)} ${param(r.params[a.name])}<br>${esc(metric)} ${num(metricOf(view, r))}`;
          },
        },
        xAxis: { ...xAxis, name: "", splitLine: { show: a.scale !== "category" } },
        yAxis: { type: "value", scale: true, axisLabel: { formatter: (v) => num(v, 3) } },
        series: [
          {
            type: "scatter",
            symbolSize: 7,
            data: points.map((r) => ({
              value: [a.scale === "category" ? String(r.params[a.name]) : r.params[a.name], metricOf(view, r)],
              itemStyle: { color: shade(r), opacity: 0.85 },
            })),
          },
        ],
      },
      { notMerge: true },
    );
    const dom = c.getDom();
    dom.dataset.series = "1";
    dom.dataset.points = String(points.length);
    dom.dataset.scale = a.scale;
    c.off("click");
    c.on("click", (p) => (location.hash = `#/run/${points[p.dataIndex].run}`));
  });
}

// Fewer results than this: the shares are rough, and the page says so.
const FEW_RESULTS = 20;

function drawImportance(view) {
  const el = document.getElementById("importance");
  const imp = view.importance;
  if (!imp) {
    el.innerHTML = `<p class="muted">${esc(view.importance_note || "Not yet.")}</p>`;
    return;
  }
  const pct = (x) => `${(x * 100).toFixed(0)}%`;
  const rows = imp.params
    .map((p) => {
      const spread = p.spread ?? null;
      const lo = spread === null ? p.importance : Math.max(0, p.importance - spread);
      const hi = spread === null ? p.importance : Math.min(1, p.importance + spread);
      const whisker =
        spread === null ? "" : `<div class="whisker" style="left:${(lo * 100).toFixed(1)}%;width:${((hi - lo) * 100).toFixed(1)}%"></div>`;
      return `<tr><td>${esc(p.name)}</td><td><div class="barbox"><div class="bar" style="width:${(p.importance * 100).toFixed(1)}%"></div>${whisker}</div></td>
      <td class="num">${pct(p.importance)}${spread === null ? "" : ` <span class="legend">± ${pct(spread)}</span>`}</td><td>${p.top_values.map(param).join(", ")}</td></tr>`;
    })
    .join("");
  const few = imp.results < FEW_RESULTS ? ` Few runs: the shares move a lot with each new one.` : "";
  el.innerHTML = `<p class="legend" id="importance-basis">Based on ${imp.results} runs (${esc(imp.budget)}): PED-ANOVA, how differently the best ${imp.top} are spread from all; ± is the spread over 100 bootstrap resamples of those runs.${few}</p>
    <div class="scroll"><table class="bars" id="importance-table"><thead><tr><th>parameter</th><th>importance</th><th class="num">share</th><th>best runs' values</th></tr></thead>
    <tbody>${rows}</tbody></table></div>`;
}
