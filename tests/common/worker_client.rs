//! A registered worker's gRPC client, as a program other than gptsweep's worker would hold
//! one: for tests that speak the Workers protocol directly.

use gptsweep_coordinator::access::Access;
use gptsweep_proto::client::{self, Stamp, Workers};
use gptsweep_proto::pb;

use super::Cluster;

/// Registers a worker called `name` with one wgpu device; answers its client, its key set.
pub async fn registered(c: &Cluster, name: &str) -> Workers {
    let stamp = Stamp::new(Some(&access(c).worker_token)).unwrap();
    let slot = stamp.worker_slot();
    let mut w = client::workers(client::channel(&c.url, None).unwrap(), stamp);
    let reply = w
        .register(pb::RegisterRequest {
            name: name.into(),
            devices: vec![pb::Device {
                spec: "wgpu:0".into(),
                name: "test adapter".into(),
                memory_bytes: 0,
            }],
        })
        .await
        .unwrap()
        .into_inner();
    slot.set(reply.worker_id, &reply.worker_key).unwrap();
    w
}

/// A Workers client that carries `token` and no worker key (never registered).
pub fn keyless(c: &Cluster, token: &str) -> Workers {
    client::workers(
        client::channel(&c.url, None).unwrap(),
        Stamp::new(Some(token)).unwrap(),
    )
}

/// The cluster's tokens.
pub fn access(c: &Cluster) -> Access {
    serde_json::from_str(&std::fs::read_to_string(c.token_file()).unwrap()).unwrap()
}

/// A CBOR compiled-kernel record, as cubecl writes one: `{key, value}`.
pub fn cbor_record(key: &str, bytes: usize) -> Vec<u8> {
    let mut out = vec![0xa2, 0x63];
    out.extend_from_slice(b"key");
    out.push(0x60 + key.len() as u8);
    out.extend_from_slice(key.as_bytes());
    out.push(0x65);
    out.extend_from_slice(b"value");
    out.push(0x5a);
    out.extend_from_slice(&(bytes as u32).to_be_bytes());
    out.extend(std::iter::repeat_n(0x42, bytes));
    out
}
