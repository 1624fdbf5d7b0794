//! `gptsweep annotate RUN --name .. --note ..` end to end, on SQLite and PostgreSQL: a
//! run's name and note are stored (migration 0013), shown by `show` (text and JSON) and
//! `top` (a NAME column once some run has a name; `name` and `note` in its JSON and CSV),
//! kept when only the other is set, cleared by an empty value; a name too long, a control
//! character or an unknown run is refused with one line and exit code 2, nothing changed.

mod common;

use common::{Cluster, TinySweep};

#[test]
fn runs_take_names_and_notes_that_show_and_top_print() {
    annotate(Cluster::start(0, 10.0));
}

#[test]
fn runs_take_names_and_notes_that_show_and_top_print_on_postgres() {
    if let Some(c) = Cluster::start_postgres(0, 10.0) {
        annotate(c);
    }
}

fn text(c: &Cluster, args: &[&str]) -> String {
    let out = c.cli(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail with exit code 2 and one line on stderr; answers it.
fn refused(c: &Cluster, args: &[&str]) -> String {
    let out = c.cli(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    stderr
}

fn annotate(c: Cluster) {
    // No workers: the runs stay queued, which is all naming needs.
    let sweep = TinySweep::new("named")
        .grid("lr", &[0.01, 0.001])
        .no_samples();
    assert_eq!(c.submit(&sweep)["runs"], 2);
    let top = c.json(&["top", "named", "-n", "0"]);
    let runs: Vec<String> = top
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run"].to_string())
        .collect();
    let (first, second) = (runs[0].as_str(), runs[1].as_str());
    assert_eq!(top[0]["name"], "", "{top}");
    assert!(!text(&c, &["top", "named"]).contains("NAME"));

    let a = c.json(&[
        "annotate",
        first,
        "--name",
        "baseline",
        "--note",
        "lr from the paper\nsecond line",
    ]);
    assert_eq!(a["name"], "baseline", "{a}");
    assert_eq!(a["note"], "lr from the paper\nsecond line", "{a}");

    let show = c.json(&["show", first]);
    assert_eq!(
        (&show["name"], &show["note"]),
        (&"baseline".into(), &"lr from the paper\nsecond line".into()),
        "{show}"
    );
    let shown = text(&c, &["show", first]);
    assert!(
        shown.contains("name: baseline\nnote: lr from the paper\n      second line\n"),
        "{shown}"
    );
    assert_eq!(c.json(&["show", second])["name"], "");
    assert!(!text(&c, &["show", second]).contains("name:"));

    // top: a NAME column, the name in its row, the other row's cell empty.
    let table = text(&c, &["top", "named"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[1].starts_with("RANK  RUN  NAME"), "{table}");
    let row = lines
        .iter()
        .find(|l| l.split_whitespace().nth(1) == Some(first))
        .unwrap();
    assert_eq!(row.split_whitespace().nth(2), Some("baseline"), "{table}");
    let top = c.json(&["top", "named", "-n", "0"]);
    let mine = top
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["run"].as_i64() == first.parse().ok())
        .unwrap();
    assert_eq!(
        (&mine["name"], &mine["note"]),
        (&"baseline".into(), &"lr from the paper\nsecond line".into())
    );
    let csv = text(&c, &["top", "named", "--output", "csv"]);
    assert!(csv.lines().next().unwrap().ends_with(",name,note"), "{csv}");
    assert!(
        csv.contains(",baseline,\"lr from the paper\nsecond line\"\n"),
        "{csv}"
    );

    // A note alone keeps the name; an empty name clears it (and the NAME column goes).
    let a = c.json(&["annotate", first, "--note", "rerun"]);
    assert_eq!(
        (&a["name"], &a["note"]),
        (&"baseline".into(), &"rerun".into())
    );
    let a = c.json(&["annotate", first, "--name", ""]);
    assert_eq!((&a["name"], &a["note"]), (&"".into(), &"rerun".into()));
    assert!(!text(&c, &["top", "named"]).contains("NAME"));

    // Refused, with one line and exit 2, and nothing stored.
    let long = "x".repeat(101);
    let e = refused(&c, &["annotate", first, "--name", &long]);
    assert_eq!(
        e,
        "error: --name: a run name is at most 100 characters; this one has 101\n"
    );
    let e = refused(&c, &["annotate", first, "--name", "a\u{1b}[31mred"]);
    assert_eq!(
        e,
        "error: --name: a run name may not hold control characters ('\\u{1b}' at character 2)\n"
    );
    let e = refused(&c, &["annotate", first, "--note", &"n".repeat(4097)]);
    assert_eq!(
        e,
        "error: --note: a run note is at most 4096 bytes; this one has 4097\n"
    );
    let e = refused(&c, &["annotate", "999999", "--name", "ghost"]);
    assert!(e.contains("no run 999999"), "{e}");
    let e = refused(&c, &["annotate", first]);
    assert_eq!(
        e,
        format!(
            "error: annotate {first}: give --name, --note or both (an empty value clears one)\n"
        )
    );
    let show = c.json(&["show", first]);
    assert_eq!(
        (&show["name"], &show["note"]),
        (&"".into(), &"rerun".into())
    );
}
