//! One probe attempt against one backend: the [`HealthCheck`] trait and its Tcp and
//! Http/Https implementations.
//!
//! - Tcp: the connection is accepted (the handshake completes), then closed.
//! - Http: `GET {requestPath}` over HTTP/1.1 answers `200`; any other status, a reset or a
//!   malformed answer fails.
//! - Https: the same over TLS **without certificate verification**, as Azure does (the
//!   backend's certificate is usually self-signed). Handshake signatures are still checked.
//!
//! Time limits are the caller's ([`super::prober`]) business: checks just run.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ProbeError;

/// A way of asking a backend whether it is healthy. `Ok` carries a short detail for the
/// health table ("200 OK", "connected").
#[async_trait]
pub trait HealthCheck: Send + Sync {
    async fn check(&self, addr: SocketAddr) -> Result<String, ProbeError>;
}

/// Succeeds when a TCP connection is accepted.
pub struct TcpCheck;

#[async_trait]
impl HealthCheck for TcpCheck {
    async fn check(&self, addr: SocketAddr) -> Result<String, ProbeError> {
        TcpStream::connect(addr).await?;
        Ok("connected".into())
    }
}

/// Succeeds when `GET path` answers 200, over plain TCP or TLS.
pub struct HttpCheck {
    path: String,
    /// `Some` for Https: a client config that accepts any certificate.
    tls: Option<tokio_rustls::TlsConnector>,
}

impl HttpCheck {
    pub fn http(path: &str) -> Self {
        HttpCheck {
            path: normalize_path(path),
            tls: None,
        }
    }

    pub fn https(path: &str) -> Result<Self, ProbeError> {
        Ok(HttpCheck {
            path: normalize_path(path),
            tls: Some(insecure_connector()?),
        })
    }
}

fn normalize_path(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

#[async_trait]
impl HealthCheck for HttpCheck {
    async fn check(&self, addr: SocketAddr) -> Result<String, ProbeError> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let status = match &self.tls {
            None => get_status(tcp, addr, &self.path).await?,
            Some(tls) => {
                let name = ServerName::IpAddress(addr.ip().into());
                let stream = tls
                    .connect(name, tcp)
                    .await
                    .map_err(|e| ProbeError::Tls(e.to_string()))?;
                get_status(stream, addr, &self.path).await?
            }
        };
        if status == 200 {
            Ok("200 OK".into())
        } else {
            Err(ProbeError::Status(status))
        }
    }
}

/// Sends `GET path` and returns the status code of the answer.
async fn get_status<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    addr: SocketAddr,
    path: &str,
) -> Result<u16, ProbeError> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: Load Balancer Agent\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    loop {
        if let Some(code) = parse_status(&buf)? {
            // Best effort: a clean close; the answer is already known.
            let _ = stream.shutdown().await;
            return Ok(code);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > 8192 {
            return Err(ProbeError::Malformed);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The status code once the status line is complete (`HTTP/1.x NNN ...\r\n`).
fn parse_status(buf: &[u8]) -> Result<Option<u16>, ProbeError> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let line = std::str::from_utf8(&buf[..end]).map_err(|_| ProbeError::Malformed)?;
    let mut parts = line.split(' ');
    match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => {
            code.parse().map(Some).map_err(|_| ProbeError::Malformed)
        }
        _ => Err(ProbeError::Malformed),
    }
}

/// A TLS connector that accepts any server certificate (ring provider).
pub(crate) fn insecure_connector() -> Result<tokio_rustls::TlsConnector, ProbeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AcceptAnyCert {
        algorithms: provider.signature_verification_algorithms,
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ProbeError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Azure's probes do not validate backend certificates; neither do ours.
#[derive(Debug)]
struct AcceptAnyCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_parsing() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\r\n").unwrap(), Some(200));
        assert_eq!(
            parse_status(b"HTTP/1.0 503 Busy\r\nX: y").unwrap(),
            Some(503)
        );
        assert_eq!(parse_status(b"HTTP/1.1 200").unwrap(), None);
        assert!(parse_status(b"SSH-2.0\r\n").is_err());
    }

    #[test]
    fn paths_are_absolute() {
        assert_eq!(normalize_path("health"), "/health");
        assert_eq!(normalize_path("/health"), "/health");
    }
}
