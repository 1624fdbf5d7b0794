//! TLS for the coordinator's port: a certificate chain and its private key, read from PEM
//! files and checked before the coordinator opens its state or binds, so that a wrong
//! path, a file without a certificate, or a key that belongs to another certificate is
//! refused up front with the file's name instead of failing every handshake later.

use std::path::{Path, PathBuf};

use gptsweep_proto::tls::PemCertificates;
use rustls::CertificateError;
use rustls::RootCertStore;
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::ParsedCertificate;
use tonic::transport::{Identity, ServerTlsConfig};

use crate::error::{CoordinatorError, Result};

/// A checked certificate chain and key; the key's bytes never reach `Debug`.
#[derive(Clone)]
pub struct TlsIdentity {
    chain: PemCertificates,
    key_path: PathBuf,
    key_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("chain", &self.chain)
            .field("key", &self.key_path)
            .finish()
    }
}

fn invalid(path: &Path, flag: &str, message: impl std::fmt::Display) -> CoordinatorError {
    CoordinatorError::Invalid(format!("{flag} {}: {message}", path.display()))
}

impl TlsIdentity {
    /// Reads and cross-checks `--tls-cert` (the chain, leaf first) and `--tls-key`.
    pub fn load(cert: &Path, key: &Path) -> Result<Self> {
        let read = |flag: &str, path: &Path| {
            gptsweep_core::input_file::read_bounded(
                flag,
                path,
                gptsweep_core::input_file::MAX_PEM_FILE_BYTES,
            )
            .map_err(|e| CoordinatorError::Invalid(e.to_string()))
        };
        let chain = PemCertificates::from_pem("--tls-cert", cert, read("--tls-cert", cert)?)
            .map_err(CoordinatorError::Invalid)?;
        let key_pem = read("--tls-key", key)?;
        let der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
            pem::Error::NoItemsFound => invalid(
                key,
                "--tls-key",
                "no private key found (expected a PEM block \"-----BEGIN PRIVATE KEY-----\", \
                 \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\")",
            ),
            e => invalid(key, "--tls-key", format!("not a PEM private key: {e}")),
        })?;
        let provider = rustls::crypto::ring::default_provider();
        let certs = chain.der();
        rustls::sign::CertifiedKey::from_der(certs.clone(), der, &provider).map_err(
            |e| match e {
                rustls::Error::InconsistentKeys(_) => invalid(
                    key,
                    "--tls-key",
                    format!(
                        "this key does not belong to the certificate in {}",
                        cert.display()
                    ),
                ),
                e => invalid(key, "--tls-key", e),
            },
        )?;
        check_validity(cert, &certs, &provider)?;
        Ok(Self {
            chain,
            key_path: key.to_path_buf(),
            key_pem,
        })
    }

    /// The certificate file.
    pub fn cert_path(&self) -> &Path {
        self.chain.path()
    }

    /// tonic's server configuration for this identity.
    pub(crate) fn server_config(&self) -> ServerTlsConfig {
        ServerTlsConfig::new().identity(Identity::from_pem(self.chain.pem(), &self.key_pem))
    }

    /// A rustls server configuration for this identity (the dashboard's HTTPS), offering
    /// HTTP/1.1 by ALPN.
    pub(crate) fn rustls_server_config(&self) -> Result<std::sync::Arc<rustls::ServerConfig>> {
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem)
            .map_err(|e| invalid(&self.key_path, "--tls-key", e))?;
        let mut config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(self.cert_path(), "--tls-cert", e))?
        .with_no_client_auth()
        .with_single_cert(self.chain.der(), key)
        .map_err(|e| invalid(self.cert_path(), "--tls-cert", e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(std::sync::Arc::new(config))
    }
}

/// Refuses a chain that no client would accept whichever CA it trusts: a leaf marked as a
/// CA (what `openssl req -x509` makes unless told `basicConstraints=critical,CA:FALSE`),
/// or one that has expired or is not valid yet. The chain is checked against itself as
/// the trust store: a self-signed leaf is fully verified, and a leaf signed by a CA the
/// file does not include stops at "unknown issuer", which only clients can settle.
fn check_validity(
    path: &Path,
    chain: &[CertificateDer<'static>],
    provider: &CryptoProvider,
) -> Result<()> {
    let leaf = ParsedCertificate::try_from(&chain[0])
        .map_err(|e| invalid(path, "--tls-cert", format!("unreadable certificate: {e}")))?;
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(chain.iter().cloned());
    let verdict = verify_server_cert_signed_by_trust_anchor(
        &leaf,
        &roots,
        &chain[1..],
        UnixTime::now(),
        provider.signature_verification_algorithms.all,
    );
    let Err(rustls::Error::InvalidCertificate(e)) = verdict else {
        return Ok(());
    };
    match e {
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => Err(invalid(path, "--tls-cert", e)),
        CertificateError::Other(ref other)
            if format!("{other:?}").contains("CaUsedAsEndEntity") =>
        {
            Err(invalid(
                path,
                "--tls-cert",
                "the first certificate is a CA certificate (basicConstraints CA:TRUE), which TLS \
                 clients refuse as a server's own; make a leaf certificate (with openssl: \
                 -addext basicConstraints=critical,CA:FALSE)",
            ))
        }
        _ => Ok(()),
    }
}
