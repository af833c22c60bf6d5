//! The local certificate authority and the server certificate armlet serves ARM with.
//!
//! On first start armlet creates a CA and a server certificate for `localhost`, `127.0.0.1`
//! and `::1` under `<data dir>/tls/`, and reuses them afterwards, so a client that trusts
//! `ca.pem` once keeps trusting armlet across restarts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Paths of the TLS material inside a data directory.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub dir: PathBuf,
}

impl TlsFiles {
    pub fn new(data_dir: &Path) -> Self {
        TlsFiles {
            dir: data_dir.join("tls"),
        }
    }
    /// The CA certificate clients trust (`REQUESTS_CA_BUNDLE`).
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
    /// The secret that signs access tokens.
    pub fn token_key(&self) -> PathBuf {
        self.dir.join("token-signing.key")
    }

    /// Creates the CA, server certificate and token key unless they already exist.
    pub fn ensure(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        if !(self.ca_cert().exists() && self.server_cert().exists() && self.server_key().exists()) {
            self.generate_certificates()?;
        }
        if !self.token_key().exists() {
            let secret = format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            write_private(&self.token_key(), secret.as_bytes())?;
        }
        Ok(())
    }

    fn generate_certificates(&self) -> anyhow::Result<()> {
        let ca_key = KeyPair::generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.distinguished_name = name(&format!(
            "armlet local CA {}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ));
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca.not_before = rcgen::date_time_ymd(2024, 1, 1);
        ca.not_after = rcgen::date_time_ymd(2049, 12, 31);
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, &ca_key);

        let server_key = KeyPair::generate()?;
        let mut server = CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ])?;
        server.distinguished_name = name("localhost");
        server.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server.not_before = rcgen::date_time_ymd(2024, 1, 1);
        // Clients reject leaf certificates valid for more than about two years.
        server.not_after = rcgen::date_time_ymd(2027, 12, 31);
        let server_cert = server.signed_by(&server_key, &issuer)?;

        std::fs::write(self.ca_cert(), ca_cert.pem())?;
        // The server file carries the chain so clients can build the path to the CA.
        std::fs::write(
            self.server_cert(),
            format!("{}{}", server_cert.pem(), ca_cert.pem()),
        )?;
        write_private(&self.server_key(), server_key.serialize_pem().as_bytes())?;
        Ok(())
    }

    /// The rustls configuration for the ARM listener.
    pub fn server_config(&self) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let chain = CertificateDer::pem_file_iter(self.server_cert())?
            .collect::<Result<Vec<_>, _>>()
            .context("reading server certificate")?;
        let key = PrivateKeyDer::from_pem_file(self.server_key()).context("reading server key")?;
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "armlet");
    dn
}

fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(contents)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles::new(dir.path());
        files.ensure().unwrap();
        let ca = std::fs::read(files.ca_cert()).unwrap();
        files.ensure().unwrap();
        assert_eq!(ca, std::fs::read(files.ca_cert()).unwrap());
        files.server_config().unwrap();
    }
}
