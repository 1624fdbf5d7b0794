//! The dashboard in a real browser: headless Chromium against a real coordinator with a
//! finished sweep (some of its runs stopped early by ASHA). It signs in through the URL
//! `gptsweep local` prints, renders each page, and the test reads the DOM the page left:
//! one curve per run that reported, one parallel-coordinates line per run with a metric,
//! ink on every chart's canvas, the importance table with its spread, the optimisation
//! history (its best-so-far line in the order runs ended), a slice chart per swept
//! hyperparameter, the run table sorted and filtered as its address says, a run's name
//! and note, the samples side by side. Screenshots of the four pages, 1280 and 500 pixels
//! wide, are saved under the target directory (`tmp/dashboard/`) for people to look at.
//!
//! Chromium is Debian's `chromium` (.ci/run installs it). Where none is installed the
//! test says so and passes, except under CI (`CI` set), where it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::http::get;
use common::{Cluster, TinySweep, shakespeare};

/// Longest one Chromium invocation may take.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser test: apt-get install -y chromium"
        );
        eprintln!("skipped: no chromium on PATH (apt-get install -y chromium)");
    }
    found
}

/// Headless Chromium on `url` with `action` (`--dump-dom`, `--screenshot=...`); answers
/// its stdout (written to a file beside the profile, so a large DOM never fills a pipe).
fn browse(browser: &Path, profile: &Path, url: &str, action: &str) -> String {
    browse_at(browser, profile, url, action, 1400)
}

/// [`browse`] in a window `width` pixels wide.
fn browse_at(browser: &Path, profile: &Path, url: &str, action: &str, width: u32) -> String {
    let out_file = profile.with_extension("stdout");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            // As root (CI) Chromium refuses to start with its sandbox.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            // Lets the page's fetches and ECharts' rendering finish before the DOM is read.
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--window-size={width},2600"))
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(action)
        .arg(url)
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            panic!("chromium {action} {url} took over {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "chromium {action} {url}: {status}");
    std::fs::read_to_string(&out_file).unwrap()
}

/// The value of `attr` on the element with id `id` in `dom` (Chromium writes attributes
/// in the order the page set them, each `name="value"`).
fn attr(dom: &str, id: &str, attr: &str) -> Option<u64> {
    let at = dom.find(&format!("id=\"{id}\""))?;
    let tag = &dom[at..at + dom[at..].find('>')?];
    let start = tag.find(&format!("{attr}=\""))? + attr.len() + 2;
    tag[start..start + tag[start..].find('"')?].parse().ok()
}

/// The text value of `attr` on the element with id `id` in `dom`.
fn attr_text<'a>(dom: &'a str, id: &str, attr: &str) -> Option<&'a str> {
    let at = dom.find(&format!("id=\"{id}\""))?;
    let tag = &dom[at..at + dom[at..].find('>')?];
    let start = tag.find(&format!("{attr}=\""))? + attr.len() + 2;
    Some(&tag[start..start + tag[start..].find('"')?])
}

/// A comma-separated list of numbers from `attr_text`.
fn numbers(list: &str) -> Vec<f64> {
    list.split(',').map(|v| v.parse().unwrap()).collect()
}

/// `a` and `b` alike to the last bit or two (serde_json's float parsing may differ from
/// the browser's in the last place).
fn same(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{a:?} {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-12 * y.abs(), "{a:?} {b:?}");
    }
}

/// The runs of the run table (`<tr data-run=...>`), top to bottom.
fn table_runs(dom: &str) -> Vec<i64> {
    dom.match_indices("<tr data-run=\"")
        .map(|(at, m)| {
            let rest = &dom[at + m.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect()
}

#[test]
fn chromium_renders_the_curves_the_parallel_plot_and_the_samples() {
    let Some(browser) = chromium() else { return };
    let c = Cluster::start(2, 10.0);
    // Runs of a falling learning rate and two widths; at step 10 ASHA stops those outside
    // the best third of what their rung has seen.
    c.write("corpus.txt", &shakespeare(40_000));
    let sweep = TinySweep::new("browser")
        .dataset("corpus.txt")
        .grid("lr", &[0.01, 0.001, 0.0001])
        .grid("n_embd", &[16u32, 32])
        .max_iters(40)
        .eval_interval(10)
        .hyperband(1, 3)
        .samples(1, 60);
    assert_eq!(c.submit(&sweep)["runs"], 6);
    let status = c.json(&["status", "browser", "--watch"]);
    assert_eq!(status["state"], "finished", "{}", c.logs());

    // What the pages must show, from the CLI.
    let top = c.json(&["top", "browser", "-n", "0"]);
    let rows = top.as_array().unwrap();
    let reported = rows
        .iter()
        .filter(|r| r["steps"].as_u64() > Some(0))
        .count();
    let ranked = rows
        .iter()
        .filter(|r| !r["best_val_loss"].is_null())
        .count();
    let stopped = rows.iter().filter(|r| r["state"] == "stopped").count();
    assert_eq!((reported, ranked), (6, 6), "{top}");
    assert!(stopped >= 1, "ASHA stopped none: {top}");

    // The best run and the worst get names (the best one a note too).
    let best = rows[0]["run"].as_i64().unwrap();
    let worst = rows[rows.len() - 1]["run"].as_i64().unwrap();
    c.json(&[
        "annotate",
        &best.to_string(),
        "--name",
        "baseline",
        "--note",
        "lr from the paper",
    ]);
    c.json(&["annotate", &worst.to_string(), "--name", "tiny lr"]);

    let access: Value =
        serde_json::from_str(&std::fs::read_to_string(c.token_file()).unwrap()).unwrap();
    let token = access["client_token"].as_str().unwrap();
    // The optimisation history the page must draw: each run that ended, in the order it
    // ended, and the lowest val loss so far.
    let view = get(&c.dashboard, "/api/sweeps/browser", Some(token)).json();
    let board = view["leaderboard"].as_array().unwrap();
    let mut ended: Vec<(i64, i64, f64)> = board
        .iter()
        .filter(|r| !r["finished_at_ms"].is_null() && !r["best_val_loss"].is_null())
        .map(|r| {
            (
                r["finished_at_ms"].as_i64().unwrap(),
                r["run"].as_i64().unwrap(),
                r["best_val_loss"].as_f64().unwrap(),
            )
        })
        .collect();
    ended.sort_by_key(|e| (e.0, e.1));
    assert_eq!(ended.len(), 6, "every run ended with a value: {view}");
    let history_runs: Vec<String> = ended.iter().map(|e| e.1.to_string()).collect();
    let history_values: Vec<f64> = ended.iter().map(|e| e.2).collect();
    let best_so_far: Vec<f64> = history_values
        .iter()
        .scan(f64::INFINITY, |b, &v| {
            *b = b.min(v);
            Some(*b)
        })
        .collect();
    assert_eq!(
        get(&c.dashboard, "/api/sweeps/browser/curves", Some(token))
            .json()
            .as_array()
            .unwrap()
            .len(),
        reported
    );
    let signed_in = format!("{}?token={token}", c.dashboard);
    let profile = c.dir.path().join("chromium");
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&shots).unwrap();

    let dom = browse(
        &browser,
        &profile,
        &format!("{signed_in}#/sweep/browser"),
        "--dump-dom",
    );
    assert!(
        dom.contains("data-ready=\"sweep\""),
        "the sweep page did not finish: {dom}"
    );
    for chart in ["curves-val", "curves-train"] {
        assert_eq!(
            attr(&dom, chart, "data-series"),
            Some(reported as u64),
            "{chart}: {dom}"
        );
        assert!(
            attr(&dom, chart, "data-ink") > Some(100),
            "{chart} drew nothing: {dom}"
        );
    }
    assert_eq!(
        attr(&dom, "parallel", "data-lines"),
        Some(ranked as u64),
        "{dom}"
    );
    assert!(attr(&dom, "parallel", "data-ink") > Some(100), "{dom}");
    assert!(
        dom.contains("id=\"importance-table\""),
        "no importance: {dom}"
    );
    let ranked_runs: Vec<i64> = rows.iter().map(|r| r["run"].as_i64().unwrap()).collect();
    assert_eq!(table_runs(&dom), ranked_runs, "the run table, by rank");
    assert_eq!(
        dom.matches("data-run=\"").count(),
        2 * rows.len(),
        "a tick box a row"
    );
    assert_eq!(
        dom.matches("class=\"state stopped\"").count(),
        stopped,
        "stopped runs marked in the leaderboard"
    );

    // The optimisation history: the runs in the order they ended, the best so far a
    // falling step line with the expected values.
    assert_eq!(
        attr_text(&dom, "history", "data-runs"),
        Some(history_runs.join(",").as_str()),
        "{dom}"
    );
    same(
        &numbers(attr_text(&dom, "history", "data-values").unwrap()),
        &history_values,
    );
    let drawn_best = numbers(attr_text(&dom, "history", "data-best").unwrap());
    same(&drawn_best, &best_so_far);
    assert!(
        drawn_best.windows(2).all(|w| w[1] <= w[0]),
        "{drawn_best:?}"
    );
    same(
        &drawn_best[drawn_best.len() - 1..],
        &[rows[0]["best_val_loss"].as_f64().unwrap()],
    );
    assert!(attr(&dom, "history", "data-ink") > Some(100), "{dom}");
    // A slice chart per swept hyperparameter, a dot per run with a value.
    for (i, name) in ["lr", "n_embd"].iter().enumerate() {
        let id = format!("slice-{i}");
        assert_eq!(attr_text(&dom, &id, "data-param"), Some(*name), "{dom}");
        assert_eq!(attr(&dom, &id, "data-points"), Some(ranked as u64), "{dom}");
        assert!(attr(&dom, &id, "data-ink") > Some(100), "{id}: {dom}");
    }
    // Importance with its spread, and what it rests on.
    assert!(dom.contains("Based on 6 runs"), "{dom}");
    assert_eq!(dom.matches("class=\"whisker\"").count(), 2, "{dom}");
    assert_eq!(dom.matches("<span class=\"legend\">± ").count(), 2, "{dom}");
    // Names and notes in the run table.
    assert!(
        dom.contains("<span class=\"run-name\">baseline</span>"),
        "{dom}"
    );
    assert!(
        dom.contains("<span class=\"run-name\">tiny lr</span>"),
        "{dom}"
    );
    assert!(
        dom.contains("title=\"lr from the paper\">lr from the paper</div>"),
        "{dom}"
    );

    // Sorting, as a header click leaves it in the address: by run id, descending.
    let sorted = |query: &str| {
        let dom = browse(
            &browser,
            &profile,
            &format!("{signed_in}#/sweep/browser?{query}"),
            "--dump-dom",
        );
        assert!(dom.contains("data-ready=\"sweep\""), "{query}: {dom}");
        (table_runs(&dom), dom)
    };
    let mut by_id = ranked_runs.clone();
    by_id.sort_by(|a, b| b.cmp(a));
    let (runs, dom) = sorted("sort=run&dir=desc");
    assert_eq!(runs, by_id);
    assert!(
        dom.contains("data-key=\"run\" aria-sort=\"descending\">run ▼</th>"),
        "{dom}"
    );
    // By the metric, worst first: the ranking reversed (ties keep rank order).
    let mut worst_first: Vec<&Value> = rows.iter().collect();
    worst_first.sort_by(|a, b| {
        b["best_val_loss"]
            .as_f64()
            .unwrap()
            .total_cmp(&a["best_val_loss"].as_f64().unwrap())
            .then(a["rank"].as_u64().cmp(&b["rank"].as_u64()))
    });
    let worst_first: Vec<i64> = worst_first
        .iter()
        .map(|r| r["run"].as_i64().unwrap())
        .collect();
    assert_eq!(sorted("sort=metric&dir=desc").0, worst_first);
    // By name: the named runs first, alphabetically, then the rest by rank.
    let mut by_name = vec![best, worst];
    by_name.extend(ranked_runs.iter().filter(|r| ![best, worst].contains(r)));
    assert_eq!(sorted("sort=name").0, by_name);
    // Filters: a state, a name, a parameter's value.
    let stopped_runs: Vec<i64> = rows
        .iter()
        .filter(|r| r["state"] == "stopped")
        .map(|r| r["run"].as_i64().unwrap())
        .collect();
    let (runs, dom) = sorted("state=stopped");
    assert_eq!(runs, stopped_runs);
    assert!(
        dom.contains(&format!(
            "{} of 6 runs ({} filtered out)",
            stopped,
            6 - stopped
        )),
        "{dom}"
    );
    assert_eq!(sorted("q=baseline").0, vec![best]);
    let narrow: Vec<i64> = rows
        .iter()
        .filter(|r| r["params"]["n_embd"] == 16)
        .map(|r| r["run"].as_i64().unwrap())
        .collect();
    assert_eq!(narrow.len(), 3);
    assert_eq!(sorted("q=n_embd%3D16").0, narrow);

    let dom = browse(
        &browser,
        &profile,
        &format!("{signed_in}#/run/{best}"),
        "--dump-dom",
    );
    assert!(dom.contains("data-ready=\"run\""), "{dom}");
    assert_eq!(attr(&dom, "curves-run", "data-series"), Some(2));
    assert!(
        dom.contains("<span class=\"run-name\">baseline</span></h1><p id=\"run-note\" class=\"run-note\">lr from the paper</p>"),
        "{dom}"
    );
    assert!(attr(&dom, "curves-run", "data-ink") > Some(100), "{dom}");
    assert_eq!(dom.matches("class=\"sample\"").count(), 1, "{dom}");

    let three: Vec<String> = rows[..3].iter().map(|r| r["run"].to_string()).collect();
    let compare = format!("{signed_in}#/compare/{}", three.join(","));
    let dom = browse(&browser, &profile, &compare, "--dump-dom");
    assert!(dom.contains("data-ready=\"compare\""), "{dom}");
    assert_eq!(dom.matches("class=\"sample\"").count(), 3, "{dom}");
    // Each sample the three runs stored, in its column (stopped runs have none).
    let stored: usize = three
        .iter()
        .map(|run| {
            c.json(&["show", run.as_str()])["samples"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert!(stored >= 1, "the best run finished and has its sample");
    assert_eq!(dom.matches("<pre>").count(), stored, "{dom}");

    for (name, page) in [
        ("sweeps", String::new()),
        ("sweep", "#/sweep/browser".to_string()),
        ("run", format!("#/run/{best}")),
        ("compare", format!("#/compare/{}", three.join(","))),
    ] {
        for width in [1280, 500] {
            let file = shots.join(format!("{name}-{width}.png"));
            let _ = std::fs::remove_file(&file);
            browse_at(
                &browser,
                &profile,
                &format!("{signed_in}{page}"),
                &format!("--screenshot={}", file.display()),
                width,
            );
            let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            assert!(bytes > 10_000, "{}: {bytes} bytes", file.display());
            eprintln!("screenshot: {}", file.display());
        }
    }
}
