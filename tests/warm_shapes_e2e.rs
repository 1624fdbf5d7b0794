//! Compiling ahead of need (issue 30, item 2): the coordinator names the shapes of queued
//! runs, in lease order, that are not warm in a worker's kernel scope, with a run of each
//! to warm it with (`ColdShapes`); a worker says when one is warm (`ShapeWarm`).
//!
//! On every build, through a gRPC client that is not gptsweep's worker: a sweep of three
//! shapes (two runs each) is named shape by shape in lease order and bounded by the
//! limit; a shape marked warm in one scope is left out there only (and still after a
//! restart); the kernel cache dropping records past its bound forgets every mark; a
//! caller without a worker key or with the client token is refused, and so is a shape or
//! scope that is not one. A worker of CPUs only with `--warm-ahead 2` warms nothing (there
//! are no kernels to compile) and trains its runs. The warm-ups themselves, on a GPU, are
//! tested on lavapipe (tests/kernel_cache_e2e.rs, `on_lavapipe`).

mod common;

use std::time::Duration;

use serde_json::Value;
use tonic::Code;

use common::worker_client::{access, cbor_record, keyless, registered};
use common::{Cluster, TinySweep, wait_until};
use gptsweep_proto::client::Workers;
use gptsweep_proto::pb;

const SCOPE: &str = "wgpu test adapter [0x10005:0x0000] Vulkan test | gptsweep test";

/// The kernel cache's bound at 64 KiB (past it, records go and marks are forgotten).
const BOUND: [&str; 2] = ["--kernel-cache-size", "64KiB"];

/// Three shapes (n_embd 32, 16, 24), two runs (seeds) of each.
fn three_shapes() -> TinySweep {
    TinySweep::new("shapes")
        .grid("n_embd", &[32, 16, 24])
        .grid("seed", &[1, 2])
}

async fn cold(w: &Workers, scope: &str, limit: u32) -> Result<Vec<pb::ColdShape>, tonic::Status> {
    w.clone()
        .cold_shapes(pb::ColdShapesRequest {
            scope: scope.into(),
            limit,
        })
        .await
        .map(|r| r.into_inner().shapes)
}

async fn mark(w: &Workers, scope: &str, shape: &str) -> Result<(), tonic::Status> {
    w.clone()
        .shape_warm(pb::ShapeWarmRequest {
            scope: scope.into(),
            shape: shape.into(),
        })
        .await
        .map(|_| ())
}

/// Each cold shape's n_embd, read from the run sent with it.
fn widths(shapes: &[pb::ColdShape]) -> Vec<u64> {
    shapes
        .iter()
        .map(|s| {
            let hp: Value =
                serde_json::from_str(&s.run.as_ref().unwrap().hyperparams_json).unwrap();
            hp["n_embd"].as_u64().unwrap()
        })
        .collect()
}

/// The ids of the sweep's runs, in plan order (ids are given in it), with their n_embd.
fn planned(c: &Cluster) -> Vec<(i64, u64)> {
    let top = c.json(&["top", "shapes", "-n", "0"]);
    let mut runs: Vec<(i64, u64)> = top
        .as_array()
        .unwrap_or_else(|| panic!("not a list of runs: {top}"))
        .iter()
        .map(|r| {
            (
                r["run"].as_i64().unwrap(),
                r["params"]["n_embd"].as_u64().unwrap(),
            )
        })
        .collect();
    runs.sort_unstable();
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_shapes_in_lease_order_scoped_marked_and_forgotten() {
    cold_shapes_protocol(Cluster::start_with_coordinator_args(0, 30.0, &BOUND)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_too() {
    if let Some(c) = Cluster::start_postgres_with_coordinator_args(0, 30.0, &BOUND) {
        cold_shapes_protocol(c).await;
    }
}

async fn cold_shapes_protocol(mut c: Cluster) {
    c.submit(&three_shapes());
    let runs = planned(&c);
    assert_eq!(runs.len(), 6, "{runs:?}");
    // Lease order is plan order: each shape's first run, in the order shapes first appear.
    let mut expected: Vec<(i64, u64)> = Vec::new();
    for &(id, width) in &runs {
        if !expected.iter().any(|&(_, w)| w == width) {
            expected.push((id, width));
        }
    }
    let (a, b) = (registered(&c, "a").await, registered(&c, "b").await);

    let all = cold(&a, SCOPE, 8).await.unwrap();
    assert_eq!(
        widths(&all),
        expected.iter().map(|e| e.1).collect::<Vec<_>>()
    );
    let ids: Vec<i64> = all.iter().map(|s| s.run.as_ref().unwrap().run_id).collect();
    assert_eq!(ids, expected.iter().map(|e| e.0).collect::<Vec<_>>());
    for s in &all {
        let run = s.run.as_ref().unwrap();
        assert_eq!((run.lease_id, run.sweep.as_str()), (0, "shapes"));
        assert!(
            s.shape
                .contains(&format!("n_embd={} ", widths(std::slice::from_ref(s))[0]))
        );
        assert!(
            s.shape.contains("batch_size=8 block_size=16"),
            "{}",
            s.shape
        );
    }
    assert_eq!(cold(&a, SCOPE, 2).await.unwrap(), all[..2].to_vec());

    // Marked warm by a: left out for b in that scope, not in another.
    mark(&a, SCOPE, &all[1].shape).await.unwrap();
    mark(&a, SCOPE, &all[1].shape).await.unwrap();
    let rest = cold(&b, SCOPE, 8).await.unwrap();
    assert_eq!(rest, vec![all[0].clone(), all[2].clone()]);
    assert_eq!(cold(&b, "another scope", 8).await.unwrap(), all);

    // Refused: no worker key, the client token, a shape or scope that is not one.
    let tokens = access(&c);
    let unkeyed = cold(&keyless(&c, &tokens.worker_token), SCOPE, 8).await;
    assert_eq!(unkeyed.unwrap_err().code(), Code::Unauthenticated);
    let client = mark(&keyless(&c, &tokens.client_token), SCOPE, &all[0].shape).await;
    assert_eq!(client.unwrap_err().code(), Code::PermissionDenied);
    for (scope, shape) in [
        (SCOPE, String::new()),
        (SCOPE, "a\nshape".to_string()),
        (SCOPE, "x".repeat(513)),
        ("", all[0].shape.clone()),
    ] {
        let e = mark(&a, scope, &shape).await.unwrap_err();
        assert_eq!(
            e.code(),
            Code::InvalidArgument,
            "{scope:?} {shape:?}: {e:?}"
        );
    }
    let e = cold(&a, "", 8).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert_eq!(
        cold(&b, SCOPE, 8).await.unwrap(),
        rest,
        "nothing refused was stored"
    );

    // The marks outlive a restart.
    c.restart_coordinator();
    let a = registered(&c, "a2").await;
    assert_eq!(cold(&a, SCOPE, 8).await.unwrap(), rest);

    // The cache dropping records past its bound forgets every mark.
    let big: Vec<pb::KernelUpload> = (0..70)
        .map(|k| pb::KernelUpload {
            scope: if k == 0 { SCOPE.into() } else { String::new() },
            file: "compiled/vulkan/0.10.0/spirv/chunk0.cbor".into(),
            data: cbor_record(&format!("big{k:02}"), 1000),
        })
        .collect();
    a.clone()
        .put_kernels(tokio_stream::iter(big))
        .await
        .unwrap();
    assert_eq!(cold(&a, SCOPE, 8).await.unwrap(), all);
}

#[test]
fn a_cpu_worker_warms_nothing_ahead() {
    let mut c = Cluster::start(0, 30.0);
    c.submit(&three_shapes().max_iters(4).eval_interval(2).no_samples());
    let w = c.add_worker_with(&["--warm-ahead", "2", "--idle-exit", "3"]);
    wait_until("the sweep's runs", Duration::from_secs(300), || {
        (c.json(&["status", "shapes"])["runs"]["finished"] == 6).then_some(())
    });
    assert!(c.wait_worker(w, Duration::from_secs(60)).success());
    let log = c.worker_log(w);
    assert!(
        log.contains("warm-ahead: off (no GPU kernels to compile here"),
        "{log}"
    );
    assert!(!log.contains("warm-ahead: warming"), "{log}");
    let bad = c.cli(&["worker", "--warm-ahead", "many"]);
    assert_eq!(bad.status.code(), Some(2));
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        said.contains("--warm-ahead many: expected auto or a number"),
        "{said}"
    );
}
