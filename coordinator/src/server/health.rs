//! The standard gRPC health service (`grpc.health.v1.Health`), served beside ours without
//! a token, for Kubernetes' `grpc` probes, load balancers and `grpc_health_probe`. Its
//! status is the truth about writes: SERVING while the store's writer commits, NOT_SERVING
//! while it cannot (a full disk, a database that went away) and while the coordinator
//! drains. The writer's verdict comes from real writes, kept fresh by a probe write every
//! [`PROBE_EVERY`] ([`crate::store::Probe`]).
//!
//! The overall status (service `""`) and each of our services by its full name
//! (`gptsweep.v1.Workers`, `gptsweep.v1.Clients`) all say the same.

use std::time::Duration;

use tonic_health::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};

use super::Coordinator;
use crate::error::CoordinatorError;
use crate::store::Probe;

/// How often the probe writes.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);

/// The names a client may ask about.
const SERVICES: [&str; 3] = ["", "gptsweep.v1.Workers", "gptsweep.v1.Clients"];

impl Coordinator {
    /// The health service, and the tasks that keep its status: a probe write every
    /// [`PROBE_EVERY`], and a watch of the writer's verdict and of the drain.
    pub(super) fn health_service(&self) -> HealthServer<impl Health> {
        let (reporter, service) = tonic_health::server::health_reporter();
        let store = self.store.clone();
        let mut stopping = self.stopping.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PROBE_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopping.wait_for(|s| *s) => return,
                }
                // A failure is already the writer's verdict, logged once by it.
                if let Err(CoordinatorError::WriterGone) = store.write(Probe).await {
                    return;
                }
            }
        });
        let mut writable = self.store.writable();
        let mut stopping = self.stopping.subscribe();
        tokio::spawn(async move {
            loop {
                let status = if *stopping.borrow_and_update() {
                    ServingStatus::NotServing
                } else if writable.borrow_and_update().is_yes() {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                for name in SERVICES {
                    reporter.set_service_status(name, status).await;
                }
                tokio::select! {
                    changed = writable.changed() => if changed.is_err() { return },
                    changed = stopping.changed() => if changed.is_err() { return },
                }
            }
        });
        service
    }
}
