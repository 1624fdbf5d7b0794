//! The CLI's habits a new user meets in the first hour (issue 31, item 4 and its smaller
//! points), on the real binary: shared flags only on the verbs they mean something to,
//! help that lists only what is accepted, a usage error in one line that names what is
//! missing (also in JSON), a suggestion for a mistyped verb, `submit --name`, `delete`
//! that asks (refused without a terminal unless --yes), counts in the singular for one,
//! `samples` headed by the sweep's metric and saying why it shows fewer than --top.

mod common;

use std::process::{Command, Output};

use common::{Cluster, TinySweep, bin};
use serde_json::Value;

/// Runs the binary with `args` and `env`, none of the CLI's own variables inherited.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin());
    for var in [
        "GPTSWEEP_OUTPUT",
        "GPTSWEEP_COORDINATOR",
        "GPTSWEEP_TOKEN_FILE",
        "GPTSWEEP_TLS_CA",
        "GPTSWEEP_YES",
    ] {
        cmd.env_remove(var);
    }
    cmd.args(args).envs(env.iter().copied()).output().unwrap()
}

fn help(verb: &str) -> String {
    let out = run(&[verb, "-h"], &[]);
    assert!(out.status.success(), "{verb} -h: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The help line of `flag` in `text`, if it has one.
fn flag_line<'a>(text: &'a str, flag: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| l.trim_start().starts_with(&format!("{flag} ")))
}

#[test]
fn help_lists_shared_flags_only_on_verbs_they_mean_something_to() {
    const CONNECTION: [&str; 3] = ["--coordinator", "--token-file", "--tls-ca"];
    // The coordinator connects to nothing and prints a log.
    let coordinator = help("coordinator");
    for flag in CONNECTION.iter().chain(&["--output"]) {
        assert!(
            flag_line(&coordinator, flag).is_none(),
            "coordinator: {flag}\n{coordinator}"
        );
    }
    // A worker connects, and its output is a log.
    let worker = help("worker");
    for flag in CONNECTION {
        assert!(
            flag_line(&worker, flag).is_some(),
            "worker: {flag}\n{worker}"
        );
    }
    assert!(flag_line(&worker, "--output").is_none(), "{worker}");
    // train and local print a result but connect to nothing.
    for verb in ["train", "local"] {
        let text = help(verb);
        for flag in CONNECTION {
            assert!(flag_line(&text, flag).is_none(), "{verb}: {flag}\n{text}");
        }
        assert!(
            flag_line(&text, "--output")
                .unwrap()
                .contains("[possible values: text, json]")
        );
    }
    // Client verbs: the connection, and only the output formats each accepts.
    let samples = help("samples");
    for flag in CONNECTION {
        assert!(
            flag_line(&samples, flag).is_some(),
            "samples: {flag}\n{samples}"
        );
    }
    let output = flag_line(&samples, "--output").unwrap();
    assert!(output.contains("[possible values: text, json]"), "{output}");
    assert!(!output.contains("csv"), "{output}");
    let top = help("top");
    assert!(
        flag_line(&top, "--output")
            .unwrap()
            .contains("[possible values: text, json, csv]"),
        "{top}"
    );
}

#[test]
fn a_missing_argument_is_named_in_one_line_without_the_flags_the_environment_gave() {
    let env = [
        ("GPTSWEEP_COORDINATOR", "http://127.0.0.1:9"),
        ("GPTSWEEP_TOKEN_FILE", "/nonexistent/client.token"),
    ];
    let out = run(&["status"], &env);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: missing <SWEEP> (usage: gptsweep status [OPTIONS] <SWEEP>; more with --help)\n"
    );
    assert!(out.stdout.is_empty());
    // Under --output json, the same line as the error object's message.
    let out = run(&["status", "--output", "json"], &env);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "usage");
    assert_eq!(v["error"]["exit_code"], 2);
    assert_eq!(
        v["error"]["message"],
        "missing <SWEEP> (usage: gptsweep status [OPTIONS] <SWEEP>; more with --help)"
    );
    // A value a verb does not accept says which verb does.
    let out = run(&["sweeps", "--output", "csv"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("only `top` writes CSV"), "{err}");
}

#[test]
fn a_mistyped_verb_gets_the_nearest_one() {
    let out = run(&["tpo", "e2e"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: unrecognized subcommand 'tpo'; did you mean `top`? (gptsweep --help lists the verbs)\n"
    );
}

#[test]
fn readme_names_the_cookie_the_dashboard_sets() {
    // tests/dashboard_e2e.rs pins the cookie's attributes; the README says the same.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(readme.contains("`SameSite=Lax`"), "README");
    assert!(!readme.contains("SameSite=Strict"), "README");
}

#[test]
fn submit_names_delete_asks_and_samples_say_their_metric_and_shortfall() {
    let c = Cluster::start(1, 30.0);
    let sweep = TinySweep::new("habits")
        .metric("val_bpc")
        .grid("lr", &[0.01, 0.003]);
    let file = sweep.write_in(c.dir.path());
    let file = file.to_str().unwrap();
    assert_eq!(c.submit(&sweep)["name"], "habits");

    // The same file again: refused on its name, with the flag that gets past it...
    let again = c.cli(&["submit", file]);
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("a sweep named \"habits\" already exists"),
        "{err}"
    );
    assert!(err.contains("--name NEW_NAME"), "{err}");
    // ...which names it, here and at the coordinator.
    let named = c.json(&["submit", file, "--name", "habits-2"]);
    assert_eq!(named["name"], "habits-2", "{named}");
    assert_eq!(named["runs"], 2, "{named}");
    let bad = c.cli(&["submit", file, "--name", "42"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--name: \"42\" must not be a number"),
        "{bad:?}"
    );
    for name in ["habits", "habits-2"] {
        let status = c.json(&["status", name, "--watch"]);
        assert_eq!(status["state"], "finished", "{status}\n{}", c.logs());
    }

    // samples: each column headed by the sweep's metric, and a line for what is missing.
    let board = c.json(&["top", "habits"]);
    let rows = board.as_array().unwrap();
    let text = c.cli(&["samples", "habits", "--top", "5", "--width", "30"]);
    assert!(text.status.success(), "{text:?}");
    let text = String::from_utf8(text.stdout).unwrap();
    let header = text.lines().next().unwrap();
    for r in rows {
        let want = format!(
            "#{} run {} (val_bpc {:.4})",
            r["rank"],
            r["run"],
            r["best_val_bpc"].as_f64().unwrap()
        );
        assert!(header.contains(&want), "{want}\n{text}");
    }
    assert_eq!(
        text.lines().last().unwrap(),
        "2 of --top 5 shown: the sweep has 2 runs"
    );

    // delete: a script without --yes is refused in one line, and nothing goes.
    let refused = c.cli_asking(&["delete", "habits-2"], true);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr),
        "error: delete: not asked on a terminal, so nothing was done: add --yes (or set \
         GPTSWEEP_YES=1) to delete without asking\n"
    );
    assert_eq!(c.json(&["status", "habits-2"])["runs"]["finished"], 2);
    let deleted = c.cli_asking(&["delete", "habits-2", "--yes"], true);
    assert!(deleted.status.success(), "{deleted:?}");
    assert_eq!(
        String::from_utf8_lossy(&deleted.stdout),
        "deleted sweep habits-2: 2 runs, 4 evaluations, 2 checkpoints, 0 datasets\n"
    );

    // One of a thing is singular.
    let one = TinySweep::new("single");
    c.submit(&one);
    let status = c.json(&["status", "single", "--watch"]);
    assert_eq!(status["state"], "finished", "{status}\n{}", c.logs());
    let deleted = c.cli(&["delete", "single"]);
    assert_eq!(
        String::from_utf8_lossy(&deleted.stdout),
        "deleted sweep single: 1 run, 2 evaluations, 1 checkpoint, 0 datasets\n"
    );
}
