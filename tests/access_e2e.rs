//! The access matrix against a real coordinator process: for every method of both
//! services, no token and an unknown token are UNAUTHENTICATED, the other role's token is
//! PERMISSION_DENIED, and the right token gets through the gate; past it, every Workers
//! method but Register also needs a registered worker's id and key (UNAUTHENTICATED
//! without them, or with a wrong key).

mod common;

use common::Cluster;
use gptsweep_coordinator::access::Access;
use gptsweep_proto::client::{self, Stamp};
use gptsweep_proto::pb;
use tonic::Code;

/// Each Workers method's answer to a call with `token` and, when given, a worker's id and
/// key; the calls that name a worker name that id.
async fn worker_codes(
    url: &str,
    token: Option<&str>,
    worker: Option<(i64, &str)>,
) -> Vec<(&'static str, Code)> {
    let stamp = Stamp::new(token).unwrap();
    if let Some((id, key)) = worker {
        stamp.worker_slot().set(id, key).unwrap();
    }
    let worker_id = worker.map_or(0, |(id, _)| id);
    let mut c = client::workers(client::channel(url, None).unwrap(), stamp);
    let code = |r: Result<(), tonic::Status>| r.err().map(|s| s.code()).unwrap_or(Code::Ok);
    vec![
        (
            "Register",
            code(c.register(pb::RegisterRequest::default()).await.map(drop)),
        ),
        (
            "Lease",
            code(
                c.lease(pb::LeaseRequest {
                    worker_id,
                    ..Default::default()
                })
                .await
                .map(drop),
            ),
        ),
        (
            "Report",
            code(c.report(pb::ReportRequest::default()).await.map(drop)),
        ),
        (
            "Heartbeat",
            code(c.heartbeat(pb::HeartbeatRequest::default()).await.map(drop)),
        ),
        (
            "Finish",
            code(c.finish(pb::FinishRequest::default()).await.map(drop)),
        ),
        (
            "FetchDataset",
            code(
                c.fetch_dataset(pb::FetchDatasetRequest::default())
                    .await
                    .map(drop),
            ),
        ),
        (
            "PutCheckpoint",
            code(
                c.put_checkpoint(tokio_stream::iter(vec![pb::CheckpointUpload::default()]))
                    .await
                    .map(drop),
            ),
        ),
        (
            "GetCheckpoint",
            code(
                c.get_checkpoint(pb::GetCheckpointRequest::default())
                    .await
                    .map(drop),
            ),
        ),
        (
            "DisableDevice",
            code(
                c.disable_device(pb::DisableDeviceRequest {
                    worker_id,
                    ..Default::default()
                })
                .await
                .map(drop),
            ),
        ),
        (
            "Deregister",
            code(
                c.deregister(pb::DeregisterRequest {
                    worker_id,
                    ..Default::default()
                })
                .await
                .map(drop),
            ),
        ),
    ]
}

async fn client_codes(url: &str, token: Option<&str>) -> Vec<(&'static str, Code)> {
    let mut c = client::clients(
        client::channel(url, None).unwrap(),
        Stamp::new(token).unwrap(),
    );
    let code = |r: Result<(), tonic::Status>| r.err().map(|s| s.code()).unwrap_or(Code::Ok);
    let sweep = || pb::SweepRef {
        sweep: "none".into(),
    };
    vec![
        (
            "UploadDataset",
            code(
                c.upload_dataset(tokio_stream::iter(vec![pb::DatasetUpload::default()]))
                    .await
                    .map(drop),
            ),
        ),
        (
            "Submit",
            code(c.submit(pb::SubmitRequest::default()).await.map(drop)),
        ),
        (
            "ListSweeps",
            code(
                c.list_sweeps(pb::ListSweepsRequest::default())
                    .await
                    .map(drop),
            ),
        ),
        ("SweepStatus", code(c.sweep_status(sweep()).await.map(drop))),
        (
            "Top",
            code(c.top(pb::TopRequest::default()).await.map(drop)),
        ),
        (
            "ShowRun",
            code(c.show_run(pb::ShowRunRequest::default()).await.map(drop)),
        ),
        (
            "ListWorkers",
            code(
                c.list_workers(pb::ListWorkersRequest::default())
                    .await
                    .map(drop),
            ),
        ),
        ("Cancel", code(c.cancel(sweep()).await.map(drop))),
        (
            "Retry",
            code(c.retry(pb::RetryRequest::default()).await.map(drop)),
        ),
    ]
}

fn all(codes: &[(&str, Code)], want: Code) {
    for (method, code) in codes {
        assert_eq!(*code, want, "{method}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_checks_token_and_role() {
    let c = Cluster::start(0, 10.0);
    let access: Access =
        serde_json::from_str(&std::fs::read_to_string(c.token_file()).unwrap()).unwrap();
    let url = c.url.clone();

    let workers = worker_codes(&url, None, None).await;
    assert_eq!(workers.len(), 10);
    all(&workers, Code::Unauthenticated);
    all(
        &worker_codes(&url, Some("not-a-token"), None).await,
        Code::Unauthenticated,
    );
    all(
        &worker_codes(&url, Some(&access.client_token), None).await,
        Code::PermissionDenied,
    );

    // The worker token opens Register alone; the other methods need a worker's key.
    let token = Some(access.worker_token.as_str());
    let mut registering = client::workers(
        client::channel(&url, None).unwrap(),
        Stamp::new(token).unwrap(),
    );
    let registered = registering
        .register(pb::RegisterRequest {
            name: "matrix".into(),
            devices: vec![pb::Device {
                spec: "cpu".into(),
                ..Default::default()
            }],
        })
        .await
        .unwrap()
        .into_inner();
    let (id, key) = (registered.worker_id, registered.worker_key.as_str());
    assert_eq!(key.len(), 64, "a key of 256 bits in hex");
    for worker in [None, Some((id, "not-its-key")), Some((id + 1, key))] {
        let codes = worker_codes(&url, token, worker).await;
        assert_eq!(codes[0], ("Register", Code::InvalidArgument), "{worker:?}");
        all(&codes[1..], Code::Unauthenticated);
    }
    for (method, code) in worker_codes(&url, token, Some((id, key))).await {
        assert!(
            !matches!(code, Code::Unauthenticated | Code::PermissionDenied),
            "{method}: {code:?}"
        );
    }

    let clients = client_codes(&url, None).await;
    assert_eq!(clients.len(), 9);
    all(&clients, Code::Unauthenticated);
    all(
        &client_codes(&url, Some("not-a-token")).await,
        Code::Unauthenticated,
    );
    all(
        &client_codes(&url, Some(&access.worker_token)).await,
        Code::PermissionDenied,
    );
    for (method, code) in client_codes(&url, Some(&access.client_token)).await {
        assert!(
            !matches!(code, Code::Unauthenticated | Code::PermissionDenied),
            "{method}: {code:?}"
        );
    }

    // The CLI says what to do without a token.
    let out = std::process::Command::new(common::bin())
        .args(["sweeps", "--coordinator", &url])
        .env_remove("GPTSWEEP_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no bearer token: pass --token-file"));
}
