// gptsweep dashboard: a sweep's run table (the leaderboard), sortable and filterable.
// Its columns are one list (boardColumns): a column is a key, a header, whether it is a
// number, the value it sorts by and the cell it shows; adding one is one entry. Sorting
// (click a header: ascending, again: descending) and the filter (state, text in the run's
// name, note, id or parameters) outlive the page's polls. Loaded before app.js, whose
// helpers (esc, num, param, state, duration, metricOf) it uses when called.
"use strict";

// The columns of a sweep's table: fixed ones around the swept hyperparameters.
function boardColumns(view) {
  const names = view.axes.map((a) => a.name);
  const extra = view.leaderboard.length ? Object.keys(view.leaderboard[0].params).filter((k) => !names.includes(k)) : [];
  const named = view.leaderboard.some((r) => r.name || r.note);
  const cols = [
    { key: "rank", label: "rank", num: true, value: (r) => r.rank, cell: (r) => String(r.rank) },
    { key: "run", label: "run", num: false, value: (r) => r.run, cell: (r) => `<a href="#/run/${r.run}">#${r.run}</a>` },
  ];
  if (named) {
    cols.push({
      key: "name",
      label: "name",
      num: false,
      value: (r) => (r.name || null),
      cell: (r) =>
        `<span class="run-name">${esc(r.name)}</span>${r.note ? `<div class="note" title="${esc(r.note)}">${esc(r.note.split("\n")[0])}</div>` : ""}`,
      wide: true,
    });
  }
  cols.push({ key: "state", label: "state", num: false, value: (r) => r.state, cell: (r) => state(r.state) });
  for (const k of names.concat(extra)) {
    cols.push({ key: `param:${k}`, label: k, num: true, value: (r) => r.params[k], cell: (r) => param(r.params[k]) });
  }
  cols.push(
    { key: "metric", label: view.summary.metric, num: true, value: (r) => metricOf(view, r), cell: (r) => `<b>${num(metricOf(view, r))}</b>` },
    { key: "best_step", label: "best step", num: true, value: (r) => r.best_step, cell: (r) => num(r.best_step) },
    { key: "steps", label: "steps", num: true, value: (r) => (r.progress ? r.progress.step : r.steps), cell: (r) => stepCell(r, r.steps) },
    { key: "params", label: "params", num: true, value: (r) => r.num_params, cell: (r) => num(r.num_params) },
    {
      key: "tok_s",
      label: "tok/s",
      num: true,
      value: (r) => (r.tokens_per_sec || null),
      cell: (r) => (r.tokens_per_sec ? num(Math.round(r.tokens_per_sec)) : "–"),
    },
    { key: "time", label: "time", num: true, value: (r) => (r.train_secs || null), cell: (r) => duration(r.train_secs) },
  );
  return cols;
}

// Compares two cell values: missing ones last whatever the direction, numbers as numbers.
function compareValues(a, b, dir) {
  const missing = (v) => v === null || v === undefined || v === "";
  if (missing(a) || missing(b)) return missing(a) - missing(b);
  const c = typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b), "en", { numeric: true });
  return dir === "desc" ? -c : c;
}

// Whether a run passes the filter: its state, and every word of the text somewhere in its
// id, name, note or parameters.
function passes(r, filter) {
  if (filter.state && r.state !== filter.state) return false;
  const words = filter.text.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return true;
  const hay = [`#${r.run}`, r.name, r.note, ...Object.entries(r.params).map(([k, v]) => `${k}=${v}`)].join(" ").toLowerCase();
  return words.every((w) => hay.includes(w));
}

// The table's state across polls: sort, filter, ticked runs. `onChosen` hears ticks.
// Sort and filter start from the page's address (`?sort=KEY&dir=desc&state=S&q=TEXT`)
// and are written back to it, so that a link or a reload keeps them.
function makeBoard(onChosen, query) {
  return {
    sort: { key: query.get("sort") || "rank", dir: query.get("dir") === "desc" ? "desc" : "asc" },
    filter: { state: query.get("state") || "", text: query.get("q") || "" },
    chosen: new Set(),
    onChosen,
    view: null,
  };
}

// Writes sort and filter into the address without a new history entry or a re-route.
function rememberBoard(board) {
  const q = new URLSearchParams();
  if (board.sort.key !== "rank" || board.sort.dir !== "asc") {
    q.set("sort", board.sort.key);
    if (board.sort.dir === "desc") q.set("dir", "desc");
  }
  if (board.filter.state) q.set("state", board.filter.state);
  if (board.filter.text) q.set("q", board.filter.text);
  const base = location.hash.split("?")[0];
  const hash = q.toString() ? `${base}?${q}` : base;
  if (hash !== location.hash) history.replaceState(null, "", hash);
}

// Draws the controls once (they keep focus and text across polls) and the table.
function drawBoard(board, view) {
  board.view = view;
  const host = document.getElementById("board");
  if (!document.getElementById("board-filter")) {
    host.innerHTML = `<div class="controls board-controls">
        <input id="board-filter" type="search" placeholder="filter: name, note, lr=0.003…" aria-label="filter runs">
        <select id="board-state" aria-label="state"></select>
        <span id="board-count" class="legend"></span></div>
      <div class="scroll"><table id="leaderboard"></table></div>`;
    const text = document.getElementById("board-filter");
    text.value = board.filter.text;
    text.oninput = () => {
      board.filter.text = text.value;
      drawRows(board);
    };
    const sel = document.getElementById("board-state");
    sel.onchange = () => {
      board.filter.state = sel.value;
      drawRows(board);
    };
  }
  // Every state a run is in, and the one asked for even while no run is in it.
  const states = [...new Set(view.leaderboard.map((r) => r.state).concat(board.filter.state ? [board.filter.state] : []))].sort();
  const sel = document.getElementById("board-state");
  sel.innerHTML = [`<option value="">every state</option>`]
    .concat(states.map((s) => `<option value="${esc(s)}">${esc(s)}</option>`))
    .join("");
  sel.value = board.filter.state;
  drawRows(board);
}

function drawRows(board) {
  rememberBoard(board);
  const view = board.view;
  const cols = boardColumns(view);
  const col = cols.find((c) => c.key === board.sort.key) || cols[0];
  const rows = view.leaderboard
    .filter((r) => passes(r, board.filter))
    .sort((a, b) => compareValues(col.value(a), col.value(b), board.sort.dir) || a.rank - b.rank);
  const arrow = (c) => (c.key === col.key ? (board.sort.dir === "asc" ? " ▲" : " ▼") : "");
  const aria = (c) => (c.key === col.key ? (board.sort.dir === "asc" ? "ascending" : "descending") : "none");
  const table = document.getElementById("leaderboard");
  table.innerHTML = `<thead><tr><th></th>${cols
    .map((c) => `<th class="sortable${c.num ? " num" : ""}" data-key="${esc(c.key)}" aria-sort="${aria(c)}">${esc(c.label)}${arrow(c)}</th>`)
    .join("")}</tr></thead><tbody>${rows
    .map(
      (r) => `<tr data-run="${r.run}"><td><input type="checkbox" data-run="${r.run}" ${board.chosen.has(r.run) ? "checked" : ""}></td>${cols
        .map((c) => `<td class="${c.num ? "num" : ""}${c.wide ? " wide" : ""}">${c.cell(r)}</td>`)
        .join("")}</tr>`,
    )
    .join("")}</tbody>`;
  table.querySelectorAll("th.sortable").forEach((th) => {
    th.onclick = () => {
      const key = th.dataset.key;
      board.sort = { key, dir: board.sort.key === key && board.sort.dir === "asc" ? "desc" : "asc" };
      drawRows(board);
    };
  });
  table.querySelectorAll("input[type=checkbox]").forEach((box) => {
    box.onchange = () => {
      const run = Number(box.dataset.run);
      if (box.checked) board.chosen.add(run);
      else board.chosen.delete(run);
      board.onChosen(board.chosen);
    };
  });
  const hidden = view.leaderboard.length - rows.length;
  document.getElementById("board-count").textContent = hidden
    ? `${rows.length} of ${view.leaderboard.length} runs (${hidden} filtered out)`
    : `${rows.length} runs`;
}
