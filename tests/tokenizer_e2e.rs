//! Comparing tokenizers end to end with real processes: a coordinator and two workers
//! run a sweep over `tokenizer: {values: [char, gpt2]}` ranked by val_bpc; the leaderboard
//! is ordered by bits per character, each run reports them with every evaluation, the
//! GPT-2 run's tokens are cached on its worker, and its samples are clean text.

mod common;

use common::{Cluster, TinySweep, shakespeare};

#[test]
fn a_sweep_over_both_tokenizers_is_ranked_by_bits_per_character() {
    let c = Cluster::start(2, 10.0);
    c.write("corpus.txt", &shakespeare(40_000));
    let sweep = TinySweep::new("tok")
        .dataset("corpus.txt")
        .grid("tokenizer", &["char", "gpt2"])
        .metric("val_bpc")
        .max_iters(20)
        .eval_interval(10)
        .sample_prompt("ROMEO:")
        .samples(1, 40);
    let sub = c.submit(&sweep);
    assert_eq!(sub["runs"], 2, "{sub}");
    let status = c.json(&["status", "tok", "--watch"]);
    assert_eq!(status["state"], "finished", "{}", c.logs());
    assert_eq!(status["runs"]["finished"], 2, "{}", c.logs());
    assert_eq!(status["evals_stored"], 4);

    let top = c.json(&["top", "tok", "-n", "0"]);
    let rows = top.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let bpc: Vec<f64> = rows
        .iter()
        .map(|r| r["best_val_bpc"].as_f64().unwrap())
        .collect();
    assert!(bpc[0] <= bpc[1], "ranked by val_bpc: {bpc:?}");
    let ln2 = std::f64::consts::LN_2;
    for r in rows {
        let (loss, bpc) = (
            r["best_val_loss"].as_f64().unwrap(),
            r["best_val_bpc"].as_f64().unwrap(),
        );
        let show = c.json(&["show", &r["run"].to_string()]);
        let evals = show["evals"].as_array().unwrap();
        assert_eq!(evals.len(), 2);
        assert!(evals.iter().all(|e| e["val_bpc"].as_f64().unwrap() > 0.0));
        let sample = show["samples"][0].as_str().unwrap();
        assert_eq!(sample.chars().count(), 40, "{sample:?}");
        assert!(!sample.contains('\u{FFFD}'), "{sample:?}");
        match r["params"]["tokenizer"].as_str().unwrap() {
            // Characters: bits per character are the loss in bits.
            "char" => assert!((bpc - loss / ln2).abs() < 1e-4, "{r}"),
            // GPT-2: about 3-4 characters a token, so far fewer bits per character
            // than per token.
            "gpt2" => assert!(bpc < loss / ln2 / 2.5, "{r}"),
            other => panic!("tokenizer {other}"),
        }
    }
    // The GPT-2 run's worker cached the corpus's tokens once.
    let cached = (0..2)
        .flat_map(|i| {
            std::fs::read_dir(c.cache_dir(i).join("tokens"))
                .into_iter()
                .flatten()
        })
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".gpt2.tokens"))
        .count();
    assert_eq!(cached, 1, "{}", c.logs());

    let text = String::from_utf8(c.cli(&["top", "tok"]).stdout).unwrap();
    assert!(
        text.contains("tok (grid by val_bpc, minimize)") && text.contains("VAL BPC"),
        "{text}"
    );
}
