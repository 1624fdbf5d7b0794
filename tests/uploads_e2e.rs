//! Uploads within bounded memory and disk, against the real coordinator process: four
//! concurrent 500 MiB dataset uploads (each fetched back at once) keep its peak resident
//! memory under 1 GB, and the unused datasets they leave are collected while it serves,
//! not at its next start; an upload that would cross the free-space reserve is refused
//! with a message naming the free space and the reserve, leaves no file behind, and the
//! coordinator serves on: a sweep trains to its end, its worker keeping the run while its
//! checkpoints are refused.

mod common;

use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tonic::Code;

use common::{Cluster, TinySweep, wait_until};
use gptsweep_coordinator::access::Access;
use gptsweep_coordinator::disk_space::space;
use gptsweep_proto::client::{self, Clients, Stamp, Workers};
use gptsweep_proto::pb;

const MIB: usize = 1 << 20;

/// The bar for the coordinator's peak resident memory.
const PEAK_RSS_LIMIT: u64 = 1_000_000_000;

/// Chunk `i` of upload `u`: 1 MiB of text, its first line naming it, so that every upload
/// is a corpus of its own.
fn chunk(u: usize, i: usize) -> Vec<u8> {
    let mut data = vec![b'a' + u as u8; MIB];
    let tag = format!("upload {u} chunk {i}\n");
    data[..tag.len()].copy_from_slice(tag.as_bytes());
    data
}

/// Upload `u` of `mib` MiB, made as it is sent; its size is announced when `announce`.
fn upload(
    u: usize,
    mib: usize,
    announce: bool,
) -> impl tokio_stream::Stream<Item = pb::DatasetUpload> + Send + 'static {
    tokio_stream::iter((0..mib).map(move |i| pb::DatasetUpload {
        name: if i == 0 {
            format!("u{u}.txt")
        } else {
            String::new()
        },
        data: chunk(u, i),
        bytes: if i == 0 && announce {
            (mib * MIB) as u64
        } else {
            0
        },
    }))
}

/// The coordinator's access tokens.
fn access(c: &Cluster) -> Access {
    serde_json::from_str(&std::fs::read_to_string(c.token_file()).unwrap()).unwrap()
}

fn clients(url: &str, token: &str) -> Clients {
    client::clients(
        client::channel(url, None).unwrap(),
        Stamp::new(Some(token)).unwrap(),
    )
}

/// A Workers client registered as a worker of its own (every Workers call but Register
/// carries a worker's key).
async fn workers(url: &str, token: &str) -> Workers {
    let stamp = Stamp::new(Some(token)).unwrap();
    let slot = stamp.worker_slot();
    let mut w = client::workers(client::channel(url, None).unwrap(), stamp);
    let me = w
        .register(pb::RegisterRequest {
            name: "fetcher".into(),
            devices: vec![pb::Device {
                spec: "cpu".into(),
                name: "cpu".into(),
                memory_bytes: 0,
            }],
        })
        .await
        .unwrap()
        .into_inner();
    slot.set(me.worker_id, &me.worker_key).unwrap();
    w
}

/// A `kB` field (`VmHWM`, `VmRSS`) of `/proc/PID/status`, in bytes.
fn proc_status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line:?}"));
    kib * 1024
}

/// The files in `dir` and their total size.
fn usage(dir: &Path) -> (usize, u64) {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .fold((0, 0), |(n, bytes), m| (n + 1, bytes + m.len()))
        })
        .unwrap_or((0, 0))
}

/// The datasets the coordinator's log says its collections removed while it served.
fn collected_while_serving(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("unused datasets and") && l.contains("dataset files no row names"))
        .filter_map(|l| {
            let after = l.split("collected ").nth(1)?;
            after.split_whitespace().next()?.parse::<usize>().ok()
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_concurrent_500_mib_uploads_stay_under_1_gb_and_unused_ones_are_collected_while_serving()
 {
    const UPLOADS: usize = 4;
    const SIZE_MIB: usize = 500;
    let c = Cluster::start_with_coordinator_args(0, 10.0, &["--unused-dataset-grace", "5"]);
    let access = access(&c);
    let datasets = c.state().join("datasets");
    let before = usage(&datasets);
    let pid = c.coordinator_pid();
    let rss_before = proc_status_bytes(pid, "VmRSS");
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..UPLOADS)
        .map(|u| {
            let (url, client_token, worker_token) = (
                c.url.clone(),
                access.client_token.clone(),
                access.worker_token.clone(),
            );
            tokio::spawn(async move {
                let reply = clients(&url, &client_token)
                    .upload_dataset(upload(u, SIZE_MIB, true))
                    .await
                    .unwrap_or_else(|s| panic!("upload {u}: {s}"))
                    .into_inner();
                // Fetched back at once, as a worker would: streamed, hashed, counted.
                let mut fetched = workers(&url, &worker_token)
                    .await
                    .fetch_dataset(pb::FetchDatasetRequest {
                        sha256: reply.sha256.clone(),
                    })
                    .await
                    .unwrap_or_else(|s| panic!("fetch {u}: {s}"))
                    .into_inner();
                let (mut hasher, mut bytes, mut first) = (Sha256::new(), 0u64, None);
                while let Some(c) = fetched.message().await.unwrap() {
                    hasher.update(&c.data);
                    bytes += c.data.len() as u64;
                    first.get_or_insert(c.data);
                }
                let sha: String = hasher
                    .finalize()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                (reply, bytes, sha, first)
            })
        })
        .collect();
    let mut shas = std::collections::BTreeSet::new();
    for (u, task) in tasks.into_iter().enumerate() {
        let (reply, fetched, fetched_sha, first) = task.await.unwrap();
        assert_eq!(reply.bytes, (SIZE_MIB * MIB) as u64, "upload {u}");
        assert_eq!(fetched, reply.bytes, "fetch {u}");
        assert_eq!(fetched_sha, reply.sha256, "fetch {u}");
        assert_eq!(first.as_deref(), Some(&chunk(u, 0)[..]), "fetch {u}");
        shas.insert(reply.sha256);
    }
    let took = started.elapsed();
    assert_eq!(shas.len(), UPLOADS);
    let peak = proc_status_bytes(pid, "VmHWM");
    eprintln!(
        "{UPLOADS} x {SIZE_MIB} MiB uploaded and fetched back in {took:.1?}: coordinator \
         RSS {} MB before, peak {} MB",
        rss_before / 1_000_000,
        peak / 1_000_000
    );
    assert!(
        peak < PEAK_RSS_LIMIT,
        "peak RSS {peak} bytes, over {PEAK_RSS_LIMIT}\n{}",
        c.logs()
    );
    // Unused, they are collected 5 s after their upload, without a restart.
    wait_until(
        "the unused datasets collected",
        Duration::from_secs(30),
        || (usage(&datasets) == before).then_some(()),
    );
    // The collector logs what it removed once the files are gone.
    let log = || std::fs::read_to_string(c.dir.path().join("coordinator0.log")).unwrap();
    wait_until("the collection logged", Duration::from_secs(10), || {
        (collected_while_serving(&log()) >= UPLOADS).then_some(())
    });
    assert_eq!(collected_while_serving(&log()), UPLOADS, "{}", log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_that_would_cross_the_disk_reserve_are_refused_and_leave_nothing_behind() {
    // A reserve over what is free: any blob would cross it.
    let free = space(&std::env::temp_dir()).unwrap().unwrap().free;
    let reserve = free + (1 << 30);
    let c = Cluster::start_with_coordinator_args(1, 4.0, &["--disk-reserve", &reserve.to_string()]);
    let access = access(&c);
    let state = c.state();
    let kept_for_db = format!("({reserve} bytes) kept for the database (--disk-reserve)");

    // Announced or not, an upload is refused, with the free space and the reserve.
    for (u, announce) in [(0, true), (1, false)] {
        let refused = clients(&c.url, &access.client_token)
            .upload_dataset(upload(u, 8, announce))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
        let msg = refused.message();
        assert!(
            msg.starts_with(&format!(
                "dataset u{u}.txt refused: the state dir's filesystem ("
            )) && msg.contains(" free, and ")
                && msg.contains(&kept_for_db)
                && !msg.contains('\n'),
            "{msg}"
        );
    }
    // So is the CLI's, which says why.
    let corpus = common::shakespeare(20_000);
    c.write("corpus.txt", &corpus);
    let file = TinySweep::new("uploaded")
        .dataset("corpus.txt")
        .write_in(c.dir.path());
    let out = c.cli(&["submit", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("dataset corpus.txt refused: ") && stderr.contains(&kept_for_db),
        "{stderr}"
    );
    assert_eq!(
        usage(&state.join("datasets")),
        (0, 0),
        "nothing left behind"
    );

    // The coordinator serves on: a sweep on the built-in corpus trains to its end, its
    // worker keeping the run (one attempt) while every checkpoint is refused.
    let submitted = c.submit(&TinySweep::new("builtin").grid("lr", &[0.01]));
    assert_eq!(submitted["runs"], 1);
    let status = c.json(&["status", "builtin", "--watch"]);
    assert_eq!(status["runs"]["finished"], 1, "{status}\n{}", c.logs());
    let show = c.json(&["show", "1"]);
    assert_eq!(show["attempts"].as_array().unwrap().len(), 1, "{show}");
    assert_eq!(usage(&state.join("checkpoints")), (0, 0));
    let worker_log = c.worker_log(0);
    assert!(
        worker_log.contains("could not be delivered; reporting the outcome without it"),
        "{worker_log}"
    );
}
