//! The dashboard in a real browser: headless Chromium against a real coordinator with a
//! finished sweep (some of its runs stopped early by ASHA). It signs in through the URL
//! `gptsweep local` prints, renders each page, and the test reads the DOM the page left:
//! one curve per run that reported, one parallel-coordinates line per run with a metric,
//! ink on every chart's canvas, the importance table, the leaderboard, the samples side
//! by side. Screenshots of the four pages are saved under the target directory
//! (`tmp/dashboard/`) for people to look at.
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
            "--window-size=1400,2000",
            // Lets the page's fetches and ECharts' rendering finish before the DOM is read.
            "--virtual-time-budget=15000",
        ])
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

    let access: Value =
        serde_json::from_str(&std::fs::read_to_string(c.token_file()).unwrap()).unwrap();
    let token = access["client_token"].as_str().unwrap();
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
    assert_eq!(
        dom.matches("data-run=\"").count(),
        rows.len(),
        "leaderboard rows"
    );
    assert_eq!(
        dom.matches("class=\"state stopped\"").count(),
        stopped,
        "stopped runs marked in the leaderboard"
    );

    let best = rows[0]["run"].as_i64().unwrap();
    let dom = browse(
        &browser,
        &profile,
        &format!("{signed_in}#/run/{best}"),
        "--dump-dom",
    );
    assert!(dom.contains("data-ready=\"run\""), "{dom}");
    assert_eq!(attr(&dom, "curves-run", "data-series"), Some(2));
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
        let file = shots.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&file);
        browse(
            &browser,
            &profile,
            &format!("{signed_in}{page}"),
            &format!("--screenshot={}", file.display()),
        );
        let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        assert!(bytes > 10_000, "{}: {bytes} bytes", file.display());
        eprintln!("screenshot: {}", file.display());
    }
}
