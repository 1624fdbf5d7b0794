//! PEM certificates read once, with errors that name the file and say what was expected.
//! Shared by the coordinator (the chain it serves) and every client (the CA it trusts
//! for `https://` addresses), so both refuse the same bad files with the same words.

use std::path::{Path, PathBuf};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::{self, PemObject};

/// One or more certificates from a PEM file, kept as text (what tonic wants) and checked
/// to parse (what the error messages need).
#[derive(Clone)]
pub struct PemCertificates {
    path: PathBuf,
    pem: Vec<u8>,
    count: usize,
}

impl std::fmt::Debug for PemCertificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} certificates)", self.path.display(), self.count)
    }
}

impl PemCertificates {
    /// Reads `path`, which must hold at least one `BEGIN CERTIFICATE` block; `flag` names
    /// the option the path came from, for the message.
    pub fn read(flag: &str, path: &Path) -> Result<Self, String> {
        let pem = std::fs::read(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
        Self::from_pem(flag, path, pem)
    }

    /// The certificates of `pem`, already read from `path` (by a caller that bounds what
    /// it reads); at least one `BEGIN CERTIFICATE` block.
    pub fn from_pem(flag: &str, path: &Path, pem: Vec<u8>) -> Result<Self, String> {
        let count = certificates(&pem)
            .map_err(|e| format!("{flag} {}: {e}", path.display()))?
            .len();
        Ok(Self {
            path: path.to_path_buf(),
            pem,
            count,
        })
    }

    /// The file the certificates came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's PEM text.
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }

    /// The certificates, DER-encoded, in file order.
    pub fn der(&self) -> Vec<CertificateDer<'static>> {
        certificates(&self.pem).expect("checked when read")
    }
}

/// Every certificate in `pem`; an error when it holds none or a block is malformed.
fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|e| format!("not a PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err(
            "no certificate found (expected PEM blocks \"-----BEGIN CERTIFICATE-----\")".into(),
        );
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_without_certificates_are_named_and_refused() {
        let dir = std::env::temp_dir().join(format!("gptsweep-pem-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "just text\n").unwrap();
        let err = PemCertificates::read("--tls-ca", &empty).unwrap_err();
        assert!(err.starts_with("--tls-ca "), "{err}");
        assert!(err.contains("empty.pem: no certificate found"), "{err}");

        let broken = dir.join("broken.pem");
        std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\n@@@@\n").unwrap();
        let err = PemCertificates::read("--tls-ca", &broken).unwrap_err();
        assert!(
            err.contains("broken.pem: not a PEM certificate file"),
            "{err}"
        );

        let missing = dir.join("missing.pem");
        let err = PemCertificates::read("--tls-cert", &missing).unwrap_err();
        assert!(
            err.contains("--tls-cert ") && err.contains("missing.pem"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
