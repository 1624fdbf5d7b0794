//! Throwaway certificates for TLS tests: a private CA, a server certificate it signed for
//! localhost and 127.0.0.1, and strangers (another CA, an unrelated key) to be refused.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// PEM files written under one directory.
#[derive(Debug, Clone)]
pub struct Certs {
    /// The CA certificate clients trust (`--tls-ca`).
    pub ca: PathBuf,
    /// The coordinator's certificate, signed by `ca` (`--tls-cert`).
    pub cert: PathBuf,
    /// Its private key (`--tls-key`).
    pub key: PathBuf,
    /// A key that belongs to no certificate here.
    pub other_key: PathBuf,
    /// A CA that signed nothing here.
    pub stranger_ca: PathBuf,
    /// The CA's own key: with `ca`, a CA certificate posing as a server's.
    pub ca_key: PathBuf,
    /// A server certificate, signed by `ca`, that expired in 2021, and its key.
    pub expired: (PathBuf, PathBuf),
}

fn ca(name: &str) -> (CertificateParams, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    (params, key)
}

/// Generates the files into `dir` (created if needed).
pub fn generate(dir: &Path) -> Certs {
    std::fs::create_dir_all(dir).unwrap();
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let (ca_params, ca_key) = ca("gptsweep test CA");
    let ca_pem = ca_params.self_signed(&ca_key).unwrap().pem();
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "gptsweep coordinator");
    let cert_pem = params.signed_by(&server_key, &issuer).unwrap().pem();
    let (stranger_params, stranger_key) = ca("somebody else's CA");
    let stranger_pem = stranger_params.self_signed(&stranger_key).unwrap().pem();
    let expired_key = KeyPair::generate().unwrap();
    let mut expired = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    expired.not_before = rcgen::date_time_ymd(2020, 1, 1);
    expired.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let expired_pem = expired.signed_by(&expired_key, &issuer).unwrap().pem();
    Certs {
        ca: write("ca.pem", ca_pem),
        cert: write("server.pem", cert_pem),
        key: write("server.key", server_key.serialize_pem()),
        other_key: write("other.key", KeyPair::generate().unwrap().serialize_pem()),
        stranger_ca: write("stranger-ca.pem", stranger_pem),
        ca_key: write("ca.key", ca_key_pem),
        expired: (
            write("expired.pem", expired_pem),
            write("expired.key", expired_key.serialize_pem()),
        ),
    }
}
