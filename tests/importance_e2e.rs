//! `gptsweep importance` end to end with real processes: a grid whose runs differ most by
//! learning rate ranks lr first, with the best runs' values, in text and JSON; a sweep
//! where nothing varies says so with exit code 2.

mod common;

use serde_json::Value;

use common::{Cluster, TinySweep};

#[test]
fn importance_ranks_the_learning_rate_of_a_finished_grid_first() {
    let c = Cluster::start(2, 10.0);
    // 8 runs; at 20 steps lr 3e-2 trains far further than 1e-4, whatever else varies.
    let grid = TinySweep::new("imp")
        .grid("lr", &[1.0e-4, 3.0e-2])
        .grid("dropout", &[0.0, 0.05])
        .grid("n_layer", &[1u32, 2])
        .no_samples();
    c.submit(&grid);
    let status = c.json(&["status", "imp", "--watch"]);
    assert_eq!(status["runs"]["finished"], 8, "{status}\n{}", c.logs());

    let imp = c.json(&["importance", "imp"]);
    assert_eq!(
        (&imp["sweep"], &imp["metric"], &imp["budget"]),
        (
            &Value::from("imp"),
            &Value::from("val_loss"),
            &Value::from("whole runs")
        ),
        "{imp}"
    );
    assert_eq!(
        (imp["results"].as_u64(), imp["top"].as_u64()),
        (Some(8), Some(2))
    );
    let params = imp["params"].as_array().unwrap();
    let names: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3, "{imp}");
    assert_eq!(names[0], "lr", "{imp}");
    assert_eq!(params[0]["top_values"], serde_json::json!([0.03, 0.03]));
    let total: f64 = params
        .iter()
        .map(|p| p["importance"].as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-9, "{imp}");
    for p in params {
        assert!(
            p["importance"].as_f64() <= params[0]["importance"].as_f64(),
            "{imp}"
        );
        assert_eq!(p["top_values"].as_array().unwrap().len(), 2);
        // How much the share moves over bootstrap resamples of the 8 runs: some, on so few.
        let spread = p["spread"].as_f64().unwrap();
        assert!(spread > 0.0 && spread < 0.5, "{imp}");
    }

    let text = c.cli(&["importance", "imp"]);
    let text = String::from_utf8_lossy(&text.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "imp: what mattered to val_loss (PED-ANOVA: the best 2 of 8 runs against all, at whole runs; \
         ± over bootstrap resamples of the runs)"
    );
    assert!(
        lines[1].starts_with("PARAMETER  IMPORTANCE  SPREAD"),
        "{text}"
    );
    let spread = params[0]["spread"].as_f64().unwrap();
    assert!(
        lines[2].contains(&format!("± {:.1}%", 100.0 * spread)),
        "{text}"
    );
    assert!(
        lines[2].starts_with("lr ") && lines[2].ends_with("0.03 x2"),
        "{text}"
    );
    assert_eq!(lines.len(), 5, "{text}");

    // Nothing varies: nothing to measure, said plainly.
    c.submit(&TinySweep::new("one").no_samples());
    c.json(&["status", "one", "--watch"]);
    let out = c.cli(&["importance", "one"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.trim(),
        "error: importance of one: no hyperparameter varies in this sweep"
    );
}
