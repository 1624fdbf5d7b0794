//! The fleet's kernel cache (issue 30): compiled GPU kernels and autotune results kept by
//! the coordinator, so a node pays for a model shape only when the fleet has not.
//!
//! - On any build, a gRPC client that is not gptsweep's worker puts and fetches records:
//!   records uploaded by two workers at once are stored once, what is not a record (a cut
//!   CBOR item, a JSON line that is no `{key, value}`, a file outside the kernel folder) is
//!   refused alone with its reason, a fetch answers what is new since a seq in order, a
//!   caller without a worker key is refused, `gptsweep kernels` counts exactly, the records
//!   outlive a coordinator restart, and past `--kernel-cache-size` the oldest go first.
//! - With the wgpu feature (CI runs it on lavapipe): a worker trains a shape and uploads
//!   what it compiled and tuned; a second worker with an empty kernel folder fetches the
//!   fleet's records before its first run and compiles at most a tenth of what the first
//!   did for the same shape, skipping a record damaged in the store without failing.
//!   Compiling ahead of need (`--warm-ahead`): a worker with one wgpu slot trains shape A
//!   while a warm-up child compiles queued shape B; B's run then compiles at most a tenth
//!   of the records it compiles after A without warm-ahead, and reaches its first
//!   evaluation sooner (both figures printed).

mod common;

use tonic::Code;

use common::Cluster;
use common::worker_client::{access, cbor_record, keyless, registered};
use gptsweep_proto::client::Workers;
use gptsweep_proto::pb;

/// A JSON-lines autotune record, as cubecl writes one.
fn json_record(key: u32) -> Vec<u8> {
    format!(
        r#"{{"key":{{"id":{key}}},"value":{{"fastest_index":{}}}}}"#,
        key % 3
    )
    .into_bytes()
}

const JSON_FILE: &str = "autotune/autotune/0.10.0/dev0/matmul.json.log";
const CBOR_FILE: &str = "compiled/vulkan/0.10.0/spirv/chunk0.cbor";
const SCOPE: &str = "wgpu test adapter [0x10005:0x0000] Vulkan test | gptsweep test";

/// Puts `records` (file, bytes) in `scope`; answers the reply or the status.
async fn put(
    w: &Workers,
    scope: &str,
    records: &[(&str, Vec<u8>)],
) -> Result<pb::PutKernelsReply, tonic::Status> {
    let messages: Vec<pb::KernelUpload> = records
        .iter()
        .enumerate()
        .map(|(i, (file, data))| pb::KernelUpload {
            scope: if i == 0 { scope.into() } else { String::new() },
            file: file.to_string(),
            data: data.clone(),
        })
        .collect();
    w.clone()
        .put_kernels(tokio_stream::iter(messages))
        .await
        .map(|r| r.into_inner())
}

/// Every record of `scope` after `after`: (seq, file, bytes).
async fn fetch(w: &Workers, scope: &str, after: i64) -> Vec<(i64, String, Vec<u8>)> {
    let mut stream = w
        .clone()
        .fetch_kernels(pb::FetchKernelsRequest {
            scope: scope.into(),
            after_seq: after,
        })
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(r) = stream.message().await.unwrap() {
        out.push((r.seq, r.file, r.data));
    }
    out
}

/// The coordinator's flag that bounds the cache at 64 KiB.
const BOUND: [&str; 2] = ["--kernel-cache-size", "64KiB"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_stored_once_checked_one_by_one_fetched_in_order_and_bounded() {
    stored_once_checked_fetched_in_order_and_bounded(Cluster::start_with_coordinator_args(
        0, 30.0, &BOUND,
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_too() {
    if let Some(c) = Cluster::start_postgres_with_coordinator_args(0, 30.0, &BOUND) {
        stored_once_checked_fetched_in_order_and_bounded(c).await;
    }
}

async fn stored_once_checked_fetched_in_order_and_bounded(mut c: Cluster) {
    let (a, b) = (registered(&c, "a").await, registered(&c, "b").await);
    let records: Vec<(&str, Vec<u8>)> = (0..10)
        .map(|k| (JSON_FILE, json_record(k)))
        .chain((0..4).map(|k| (CBOR_FILE, cbor_record(&format!("kernel{k}"), 1000))))
        .collect();
    // The same 14 records from two workers at once: each stored once.
    let (ra, rb) = tokio::join!(put(&a, SCOPE, &records), put(&b, SCOPE, &records));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.stored + rb.stored, 14, "{ra:?} {rb:?}");
    assert_eq!(ra.known + rb.known, 14, "{ra:?} {rb:?}");
    assert_eq!((ra.refused, rb.refused), (0, 0));

    // What is not a record is refused alone, with the reason of the first.
    let mut cut = cbor_record("kernel9", 1000);
    cut.truncate(500);
    let bad: Vec<(&str, Vec<u8>)> = vec![
        (CBOR_FILE, cut),
        (JSON_FILE, br#"{"key":1}"#.to_vec()),
        ("../../etc/cron.d/x.json.log", json_record(1)),
        (JSON_FILE, json_record(10)),
    ];
    let r = put(&a, SCOPE, &bad).await.unwrap();
    assert_eq!((r.stored, r.known, r.refused), (1, 0, 3), "{r:?}");
    assert!(
        r.refusal.contains("not exactly one CBOR item"),
        "{}",
        r.refusal
    );
    let empty_scope = put(&a, "", &records[..1]).await.unwrap_err();
    assert_eq!(empty_scope.code(), Code::InvalidArgument, "{empty_scope:?}");

    // Fetches answer what is new since a seq, oldest first; other scopes hold nothing.
    let all = fetch(&b, SCOPE, 0).await;
    assert_eq!(all.len(), 15);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
    let since = fetch(&b, SCOPE, all[12].0).await;
    assert_eq!(since.len(), 2);
    assert_eq!(since[1], all[14]);
    assert_eq!(since[1].2, json_record(10));
    assert!(fetch(&b, "another scope", 0).await.is_empty());

    // Without a worker key: refused.
    let refused = keyless(&c, &access(&c).worker_token)
        .fetch_kernels(pb::FetchKernelsRequest {
            scope: SCOPE.into(),
            after_seq: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");

    // `gptsweep kernels` counts exactly, also after a restart.
    let bytes: u64 = all.iter().map(|r| r.2.len() as u64).sum();
    c.restart_coordinator();
    let listed = c.json(&["kernels"]);
    assert_eq!(listed["limit_bytes"], 64 << 10, "{listed}");
    let scopes = listed["scopes"].as_array().unwrap();
    assert_eq!(scopes.len(), 1, "{listed}");
    assert_eq!(scopes[0]["scope"], SCOPE);
    assert_eq!(scopes[0]["records"], 15);
    assert_eq!(scopes[0]["bytes"], bytes);
    // Who stored records: a (the 15th, at least), and b if it won any of the race.
    assert_eq!(scopes[0]["workers"], 1 + u64::from(rb.stored > 0));
    let text = String::from_utf8(c.cli(&["kernels"]).stdout).unwrap();
    assert!(text.contains("RECORDS") && text.contains(SCOPE), "{text}");

    // Past the bound, the oldest records go first: 70 records of ~1 KB into 64 KiB.
    let a = registered(&c, "a2").await;
    let big: Vec<(&str, Vec<u8>)> = (0..70)
        .map(|k| (CBOR_FILE, cbor_record(&format!("big{k:02}"), 1000)))
        .collect();
    let r = put(&a, SCOPE, &big).await.unwrap();
    assert_eq!(r.stored, 70);
    let kept = fetch(&a, SCOPE, 0).await;
    let kept_bytes: usize = kept.iter().map(|r| r.2.len()).sum();
    assert!(kept_bytes <= 64 << 10, "{kept_bytes}");
    assert!(
        kept_bytes > (64 << 10) - 1100,
        "{kept_bytes}: more went than needed"
    );
    assert_eq!(kept.last().unwrap().2, big[69].1, "the newest stays");
    assert!(
        kept.iter().all(|r| r.1 == CBOR_FILE && r.2.len() > 1000),
        "the older, smaller records went first"
    );
}

/// The lavapipe half: real kernels compiled by burn-wgpu, shared between two workers.
#[cfg(feature = "wgpu")]
mod on_lavapipe {
    use super::*;

    use std::time::Duration;

    use common::{TinySweep, wait_until};

    /// Damages the first record the store holds, as a disk or a hand edit might: its bytes
    /// cut in half.
    fn damage_a_record(c: &Cluster) {
        use sqlx::Connection;
        let db = c.state().join("gptsweep.db");
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
                .await
                .unwrap();
            let done = sqlx::query(
                "UPDATE kernel_records SET data = substr(data, 1, length(data) / 2)
                  WHERE seq = (SELECT MIN(seq) FROM kernel_records)",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            assert_eq!(done.rows_affected(), 1);
        });
    }

    /// The figure a worker logs after a run: records it compiled or tuned itself.
    fn compiled_here(log: &str) -> Vec<u64> {
        log.lines()
            .filter(|l| l.contains("records compiled or tuned here"))
            .map(|l| {
                let at = l.find("kernel cache: ").unwrap() + "kernel cache: ".len();
                l[at..].split(' ').next().unwrap().parse().unwrap()
            })
            .collect()
    }

    fn finished(c: &Cluster, sweep: &str) -> bool {
        c.json(&["status", sweep])["runs"]["finished"] == 1
    }

    #[test]
    fn a_second_node_starts_warm_from_the_fleets_kernels() {
        if gptsweep_gpt::backend::wgpu_identity(0).is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "no wgpu adapter: CI installs mesa-vulkan-drivers (lavapipe)"
            );
            eprintln!("skipped: no wgpu adapter here (apt-get install mesa-vulkan-drivers)");
            return;
        }
        let mut c = Cluster::start(0, 60.0);
        let first = c.dir.path().join("node-a");
        let second = c.dir.path().join("node-b");
        let shape = |name: &str| {
            TinySweep::new(name)
                .grid("seed", &[1])
                .max_iters(4)
                .eval_interval(2)
                .no_samples()
        };
        c.submit(&shape("first"));
        let a = c.add_worker_on("wgpu", &[("XDG_CACHE_HOME", &first)], &["--idle-exit", "5"]);
        wait_until("the first node's run", Duration::from_secs(600), || {
            finished(&c, "first").then_some(())
        });
        assert!(c.wait_worker(a, Duration::from_secs(60)).success());
        let compiled_a = compiled_here(&c.worker_log(a));
        assert_eq!(compiled_a.len(), 1, "{}", c.worker_log(a));
        let compiled_a = compiled_a[0];
        assert!(
            compiled_a >= 20,
            "the first node compiled {compiled_a} records"
        );

        damage_a_record(&c);
        c.submit(&shape("second"));
        let b = c.add_worker_on(
            "wgpu",
            &[("XDG_CACHE_HOME", &second)],
            &["--idle-exit", "5"],
        );
        wait_until("the second node's run", Duration::from_secs(600), || {
            finished(&c, "second").then_some(())
        });
        assert!(c.wait_worker(b, Duration::from_secs(60)).success());
        let log_b = c.worker_log(b);
        let compiled_b = compiled_here(&log_b);
        assert_eq!(compiled_b.len(), 1, "{log_b}");
        eprintln!(
            "kernel records compiled or tuned for one shape: first node {compiled_a}, \
             second node {} (fetched the fleet's first)",
            compiled_b[0]
        );
        assert!(
            compiled_b[0] * 10 <= compiled_a,
            "the second node compiled {} records, more than a tenth of the first's {compiled_a}\n{log_b}",
            compiled_b[0]
        );
        assert!(log_b.contains("records from the fleet"), "{log_b}");
        assert_eq!(
            log_b.matches("skipped a fetched record").count(),
            1,
            "the damaged record is skipped with a warning\n{log_b}"
        );
    }

    /// A's long run trains, B's waits behind it; on the lavapipe.
    fn a_then_b(c: &Cluster) {
        let tiny = |name: &str| TinySweep::new(name).no_samples().eval_interval(2);
        c.submit(&tiny("a").max_iters(100_000));
        c.submit(&tiny("b").train("n_embd", 24).max_iters(4));
    }

    /// The records B's run compiled here and the training time of its first two steps (its
    /// first evaluation's `train_secs`: compilation included).
    fn b_figures(c: &Cluster, log: &str) -> (u64, f64) {
        let top = c.json(&["top", "b", "-n", "0"]);
        let run = top[0]["run"].to_string();
        let show = c.json(&["show", &run]);
        let first = show["evals"][0]["train_secs"].as_f64().unwrap();
        let line = log
            .lines()
            .find(|l| l.contains(&format!("records compiled or tuned here for run {run},")))
            .unwrap_or_else(|| panic!("no upload line for run {run}\n{log}"));
        let at = line.find("kernel cache: ").unwrap() + "kernel cache: ".len();
        (
            line[at..].split(' ').next().unwrap().parse().unwrap(),
            first,
        )
    }

    /// Trains A then B on one wgpu slot, A cancelled once it evaluated (its kernels
    /// compiled) and, with `--warm-ahead 1`, B's shape is warm; B's figures.
    fn b_after_a(warm_ahead: &str) -> (u64, f64) {
        let mut c = Cluster::start(0, 60.0);
        let node = c.dir.path().join("node");
        a_then_b(&c);
        let w = c.add_worker_on(
            "wgpu",
            &[("XDG_CACHE_HOME", &node)],
            &["--idle-exit", "5", "--warm-ahead", warm_ahead],
        );
        let a_run = c.json(&["top", "a", "-n", "0"])[0]["run"].to_string();
        wait_until("A's first evaluation", Duration::from_secs(900), || {
            let evals = c.json(&["show", &a_run])["evals"]
                .as_array()
                .map_or(0, Vec::len);
            (evals > 0).then_some(())
        });
        if warm_ahead != "0" {
            wait_until("B warmed ahead", Duration::from_secs(900), || {
                c.worker_log(w)
                    .contains("warm-ahead: shape warm")
                    .then_some(())
            });
        }
        c.json(&["cancel", "a"]);
        wait_until("B's run", Duration::from_secs(900), || {
            finished(&c, "b").then_some(())
        });
        assert!(c.wait_worker(w, Duration::from_secs(60)).success());
        let log = c.worker_log(w);
        assert!(!log.contains("warm-up failed"), "{log}");
        b_figures(&c, &log)
    }

    #[test]
    fn a_shape_warmed_ahead_starts_compiled() {
        if gptsweep_gpt::backend::wgpu_identity(0).is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "no wgpu adapter: CI installs mesa-vulkan-drivers (lavapipe)"
            );
            eprintln!("skipped: no wgpu adapter here (apt-get install mesa-vulkan-drivers)");
            return;
        }
        // Without warm-ahead: A is cancelled after its first evaluation, then B compiles.
        let (cold, cold_secs) = b_after_a("0");
        // With it: B is warmed in a child process while A trains.
        let (warm, warm_secs) = b_after_a("1");
        eprintln!(
            "shape B after shape A on one wgpu slot: {cold} records compiled and {cold_secs:.2} s \
             to its first evaluation without warm-ahead; {warm} records and {warm_secs:.2} s \
             with --warm-ahead 1"
        );
        assert!(cold >= 10, "B compiled only {cold} records cold");
        assert!(
            warm * 10 <= cold,
            "B warmed ahead compiled {warm} records, more than a tenth of {cold}"
        );
        assert!(
            warm_secs < cold_secs,
            "B warmed ahead took {warm_secs:.2} s to its first evaluation, cold {cold_secs:.2} s"
        );
    }
}
