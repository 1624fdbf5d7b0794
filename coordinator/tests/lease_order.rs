//! The order runs are leased in: the oldest sweep first, each sweep's runs in plan order,
//! whatever order their sweeps and runs were inserted in, and the samples spec carried
//! with each lease.

mod common;

use gptsweep_coordinator::store::Database;
use gptsweep_coordinator::{Coordinator, CoordinatorConfig};

/// A grid sweep named `name` over `seeds`.
fn sweep(name: &str, seeds: &[u32]) -> String {
    let seeds: Vec<String> = seeds.iter().map(u32::to_string).collect();
    format!(
        "name: {name}
method: grid
parameters:
  seed: {{values: [{}]}}
train: {{n_embd: 16, n_head: 2, n_layer: 1, block_size: 8, max_iters: 2, eval_interval: 1}}
samples: {{count: 1}}
",
        seeds.join(", ")
    )
}

#[tokio::test]
async fn runs_are_leased_oldest_sweep_first_then_in_plan_order() {
    let dir = tempfile::tempdir().unwrap();
    let c = Coordinator::open(CoordinatorConfig::new(dir.path().to_path_buf()))
        .await
        .unwrap();
    c.submit("old.yaml", &sweep("old", &[7, 3, 5]), "")
        .await
        .unwrap();
    c.submit("new.yaml", &sweep("new", &[1, 2]), "")
        .await
        .unwrap();
    c.close().await;
    drop(c);
    let (store, worker) = common::store_with_worker(&Database::in_state_dir(dir.path())).await;
    let mut leased = Vec::new();
    while let Some(run) = common::lease(&store, worker, 60_000).await {
        let hp: serde_json::Value = serde_json::from_str(&run.hyperparams_json).unwrap();
        let samples: serde_json::Value = serde_json::from_str(&run.samples_json).unwrap();
        assert_eq!(samples["count"], 1, "{}", run.samples_json);
        leased.push((run.sweep.clone(), hp["seed"].as_u64().unwrap()));
    }
    let want: Vec<(String, u64)> = [("old", 7), ("old", 3), ("old", 5), ("new", 1), ("new", 2)]
        .iter()
        .map(|(s, n)| (s.to_string(), *n))
        .collect();
    assert_eq!(leased, want);
    store.close().await;
}
