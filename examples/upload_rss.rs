//! The coordinator's memory under concurrent dataset uploads (issue 29): `gptsweep
//! coordinator` is started as a child on a free port with a fresh state directory, N
//! clients each upload a dataset of M MiB at once over their own connection (made as it
//! is sent: the uploader holds one 1 MiB chunk each), and each fetches its dataset back
//! as a worker would. It prints the coordinator's resident memory before (VmRSS) and its
//! peak (VmHWM), the time taken, and whether every fetch matched its upload.
//!
//!   cargo build --release --bin gptsweep --example upload_rss
//!   target/release/examples/upload_rss --uploads 4 --mib 500
//!
//! Flags: `--uploads N` (4), `--mib M` (500), `--no-fetch`, `--bin PATH` (the gptsweep
//! binary; default: `gptsweep` beside this example's folder, so an older build can be
//! measured the same way).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use gptsweep_coordinator::access::Access;
use gptsweep_proto::client::{self, Stamp};
use gptsweep_proto::pb;

const MIB: usize = 1 << 20;

/// A `kB` field of `/proc/PID/status`, in bytes.
fn proc_status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// Chunk `i` of upload `u`: text, its first line naming it.
fn chunk(u: usize, i: usize) -> Vec<u8> {
    let mut data = vec![b'a' + (u % 26) as u8; MIB];
    let tag = format!("upload {u} chunk {i}\n");
    data[..tag.len()].copy_from_slice(tag.as_bytes());
    data
}

#[tokio::main]
async fn main() {
    let mut uploads = 4;
    let mut mib = 500;
    let mut fetch = true;
    let mut bin = std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.parent()?.join("gptsweep")))
        .unwrap_or_else(|| PathBuf::from("gptsweep"));
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--uploads" => uploads = value().parse().expect("--uploads N"),
            "--mib" => mib = value().parse().expect("--mib M"),
            "--bin" => bin = PathBuf::from(value()),
            "--no-fetch" => fetch = false,
            other => panic!("unknown flag {other}"),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut child = Command::new(&bin)
        .args([
            "coordinator",
            "--listen",
            "127.0.0.1:0",
            "--dashboard",
            "off",
        ])
        .arg("--state-dir")
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .strip_prefix("gptsweep coordinator listening on ")
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("the coordinator said {line:?}"));
    let url = format!("http://{addr}");
    let access: Access =
        serde_json::from_str(&std::fs::read_to_string(state.join("access.json")).unwrap()).unwrap();
    let pid = child.id();
    let before = proc_status_bytes(pid, "VmRSS");
    let started = Instant::now();
    let tasks: Vec<_> = (0..uploads)
        .map(|u| {
            let (url, access) = (url.clone(), access.clone());
            tokio::spawn(async move {
                let stamp = |t: &str| Stamp::new(Some(t)).unwrap();
                let channel = || client::channel(&url, None).unwrap();
                let stream = tokio_stream::iter((0..mib).map(move |i| pb::DatasetUpload {
                    name: if i == 0 {
                        format!("u{u}.txt")
                    } else {
                        String::new()
                    },
                    data: chunk(u, i),
                    bytes: if i == 0 { (mib * MIB) as u64 } else { 0 },
                }));
                let reply = client::clients(channel(), stamp(&access.client_token))
                    .upload_dataset(stream)
                    .await
                    .map_err(|s| format!("upload {u}: {s}"))?
                    .into_inner();
                if !fetch {
                    return Ok(reply.bytes == (mib * MIB) as u64);
                }
                let worker = stamp(&access.worker_token);
                let slot = worker.worker_slot();
                let mut fetcher = client::workers(channel(), worker);
                let me = fetcher
                    .register(pb::RegisterRequest {
                        name: format!("fetcher{u}"),
                        devices: vec![pb::Device {
                            spec: "cpu".into(),
                            name: "cpu".into(),
                            memory_bytes: 0,
                        }],
                    })
                    .await
                    .map_err(|s| format!("register {u}: {s}"))?
                    .into_inner();
                slot.set(me.worker_id, &me.worker_key)?;
                let mut fetched = fetcher
                    .fetch_dataset(pb::FetchDatasetRequest {
                        sha256: reply.sha256,
                    })
                    .await
                    .map_err(|s| format!("fetch {u}: {s}"))?
                    .into_inner();
                let mut bytes = 0u64;
                while let Some(c) = fetched.message().await.map_err(|s| s.to_string())? {
                    bytes += c.data.len() as u64;
                }
                Ok::<_, String>(bytes == reply.bytes && bytes == (mib * MIB) as u64)
            })
        })
        .collect();
    let mut whole = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(true) => whole += 1,
            Ok(false) => println!("an upload or fetch came back short"),
            Err(e) => println!("{e}"),
        }
    }
    let took = started.elapsed();
    let peak = proc_status_bytes(pid, "VmHWM");
    let after = proc_status_bytes(pid, "VmRSS");
    println!(
        "{uploads} x {mib} MiB uploaded{} in {took:.1?} ({whole} whole): coordinator RSS {:.2} GB \
         before, peak {:.2} GB, {:.2} GB after ({})",
        if fetch { " and fetched back" } else { "" },
        before as f64 / 1e9,
        peak as f64 / 1e9,
        after as f64 / 1e9,
        bin.display()
    );
    let _ = child.kill();
    let _ = child.wait();
}
