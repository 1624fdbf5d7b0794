//! A worker that is not gptsweep's, for the tests that speak the Workers protocol with
//! whatever values they choose: the fleet bench's raw HTTP/2 client (`examples/fleet_load/
//! grpc.rs`, which sends whatever it is told), registered under a name of its own with one
//! CPU device and holding one leased run. Each test binary uses a part of it, hence
//! `dead_code` is allowed here.

#![allow(dead_code)]

#[path = "../../examples/fleet_load/grpc.rs"]
pub mod grpc;

use gptsweep_proto::pb;

pub use grpc::Conn;

pub const REGISTER: &str = "/gptsweep.v1.Workers/Register";
pub const LEASE: &str = "/gptsweep.v1.Workers/Lease";

/// A raw client registered as worker `name`, with the run and lease it took: the first
/// queued run, leased at once (`wait_ms` 0).
pub struct Leased {
    pub conn: Conn,
    pub worker_id: i64,
    pub worker_key: String,
    pub run_id: i64,
    pub lease_id: i64,
}

/// Registers `name` at `addr` with the shared worker `token` and leases a run; panics when
/// no run is queued (the tests submit one first).
pub async fn register_and_lease(addr: &str, token: &str, name: &str) -> Leased {
    let conn = Conn::new(addr, token);
    let registered: pb::RegisterReply = conn
        .unary(
            REGISTER,
            &pb::RegisterRequest {
                name: name.into(),
                devices: vec![pb::Device {
                    spec: "cpu".into(),
                    name: "cpu".into(),
                    memory_bytes: 0,
                }],
            },
        )
        .await
        .unwrap();
    let worker_id = registered.worker_id;
    conn.set_worker(worker_id, &registered.worker_key);
    let leased: pb::LeaseReply = conn
        .unary(
            LEASE,
            &pb::LeaseRequest {
                worker_id,
                device: "cpu".into(),
                wait_ms: 0,
                fit_memory: false,
            },
        )
        .await
        .unwrap();
    let run = leased.run.expect("a queued run for the raw client");
    Leased {
        conn,
        worker_id,
        worker_key: registered.worker_key,
        run_id: run.run_id,
        lease_id: run.lease_id,
    }
}
