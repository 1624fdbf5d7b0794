//! Load on a real coordinator over loopback gRPC: W simulated workers lease runs and report
//! evaluations as fast as they can. Prints leases/s and reports/s, then checks that every
//! evaluation was stored exactly once.
//!   cargo run --release -p gptsweep-coordinator --example report_load -- [workers runs evals] [tls]
//! With `tls`, the coordinator serves a throwaway self-signed certificate and every client
//! verifies it, so the two figures compare plain HTTP/2 with TLS on the same machine.

use std::time::Instant;

use gptsweep_coordinator::tls::TlsIdentity;
use gptsweep_coordinator::{Coordinator, CoordinatorConfig};
use gptsweep_proto::client::{self, Stamp};
use gptsweep_proto::pb;
use gptsweep_proto::tls::PemCertificates;

/// A self-signed leaf for 127.0.0.1 written under `dir`: the identity and the CA to trust.
fn throwaway_tls(dir: &std::path::Path) -> (TlsIdentity, PemCertificates) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (
        TlsIdentity::load(&cert_path, &key_path).unwrap(),
        PemCertificates::read("--tls-ca", &cert_path).unwrap(),
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tls = args.iter().any(|a| a == "tls");
    let a: Vec<usize> = args
        .iter()
        .filter(|a| *a != "tls")
        .map(|s| s.parse().expect("integers"))
        .collect();
    let (workers, runs, evals) = (
        a.first().copied().unwrap_or(200),
        a.get(1).copied().unwrap_or(400),
        a.get(2).copied().unwrap_or(20),
    );
    let dir = std::env::temp_dir().join(format!("gptsweep-load-{}", std::process::id()));
    let mut config = CoordinatorConfig::new(dir.join("state"));
    let mut ca = None;
    if tls {
        let (identity, trust) = throwaway_tls(&dir.join("tls"));
        config.tls = Some(identity);
        ca = Some(trust);
    }
    let coordinator = Coordinator::open(config).await.unwrap();
    // Sized as `gptsweep coordinator` sizes its port: 1,000 clients connect at once.
    gptsweep_coordinator::listen::raise_fd_limit();
    let listener = gptsweep_coordinator::listen::bind("127.0.0.1:0")
        .await
        .unwrap();
    let scheme = if tls { "https" } else { "http" };
    let url = format!("{scheme}://{}", listener.local_addr().unwrap());
    tokio::spawn(coordinator.clone().serve(listener, std::future::pending()));

    let seeds: Vec<String> = (0..runs).map(|i| i.to_string()).collect();
    let yaml = format!(
        "name: load\nmethod: grid\nparameters:\n  seed: {{values: [{}]}}\ntrain: {{n_embd: 16, n_head: 2, n_layer: 1, block_size: 8, max_iters: {}, eval_interval: 1}}\nsamples: {{count: 0}}\n",
        seeds.join(", "),
        evals
    );
    let (worker_token, client_token) = (
        coordinator.access().worker_token.clone(),
        coordinator.access().client_token.clone(),
    );
    let submitted = Instant::now();
    coordinator.submit("load.yaml", &yaml, "").await.unwrap();

    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let url = url.clone();
        let token = worker_token.clone();
        let ca = ca.clone();
        tasks.push(tokio::spawn(async move {
            let stamp = Stamp::new(Some(&token)).unwrap();
            let key = stamp.worker_slot();
            let mut c = client::workers(client::channel(&url, ca.as_ref()).unwrap(), stamp);
            let reg = c
                .register(pb::RegisterRequest {
                    name: format!("sim{w}"),
                    devices: vec![pb::Device {
                        spec: "cpu".into(),
                        name: "cpu".into(),
                        memory_bytes: 0,
                    }],
                })
                .await
                .unwrap()
                .into_inner();
            key.set(reg.worker_id, &reg.worker_key).unwrap();
            let (mut leases, mut reports, mut first_lease) = (0u64, 0u64, None);
            loop {
                let lease = c
                    .lease(pb::LeaseRequest {
                        worker_id: reg.worker_id,
                        device: "cpu".into(),
                        wait_ms: 0,
                        fit_memory: false,
                    })
                    .await
                    .unwrap()
                    .into_inner();
                let Some(run) = lease.run else { break };
                first_lease.get_or_insert_with(Instant::now);
                leases += 1;
                for step in 1..=evals as u64 {
                    let e = pb::EvalPoint {
                        step,
                        train_loss: 2.0,
                        val_loss: 2.0 + 1.0 / step as f32,
                        train_bpc: 3.0,
                        val_bpc: 3.0,
                        tokens_per_sec: 1.0,
                        train_secs: step as f64,
                    };
                    c.report(pb::ReportRequest {
                        run_id: run.run_id,
                        lease_id: run.lease_id,
                        evals: vec![e],
                    })
                    .await
                    .unwrap();
                    reports += 1;
                }
                c.finish(pb::FinishRequest {
                    run_id: run.run_id,
                    lease_id: run.lease_id,
                    outcome: pb::Outcome::Finished as i32,
                    ..Default::default()
                })
                .await
                .unwrap();
            }
            (leases, reports, first_lease)
        }));
    }
    let (mut leases, mut reports, mut first) = (0, 0, None::<Instant>);
    for t in tasks {
        let (l, r, f) = t.await.unwrap();
        leases += l;
        reports += r;
        first = match (first, f) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    let secs = t0.elapsed().as_secs_f64();
    let mut cc = client::clients(
        client::channel(&url, ca.as_ref()).unwrap(),
        Stamp::new(Some(&client_token)).unwrap(),
    );
    let status = cc
        .sweep_status(pb::SweepRef {
            sweep: "load".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .sweep
        .unwrap();
    println!(
        "{workers} simulated workers over {scheme}, {runs} runs x {evals} evaluations in {secs:.2}s"
    );
    println!(
        "leases: {leases} ({:.0}/s), reports: {reports} ({:.0}/s), first lease {:.1} ms after submit",
        leases as f64 / secs,
        reports as f64 / secs,
        first
            .map(|f| (f - submitted).as_secs_f64() * 1e3)
            .unwrap_or(f64::NAN)
    );
    println!(
        "stored evaluations: {} (expected {}), sweep {}, finished runs {}",
        status.evals_stored,
        runs * evals,
        status.state,
        status.runs.unwrap().finished
    );
    assert_eq!(leases as usize, runs);
    assert_eq!(status.evals_stored as usize, runs * evals);
    let _ = std::fs::remove_dir_all(dir);
}
