//! TLS for every connection to LiveChat (the Web API client and the RTM websocket): rustls
//! with the ring provider and the platform's root certificates, read at the first TLS
//! handshake rather than when a client is built.
//!
//! rustls-platform-verifier reads and parses every root certificate on the system (some 150
//! files here) when its verifier is made, which reqwest does while building a client. That is
//! most of a cold start, and a start needs none of it: the first answer (`tools/list`) makes no
//! request, and a plain-HTTP upstream (the sandbox) never needs a root at all. So the
//! verifier here is made on first use, once per process, and shared by every client.

use std::sync::{Arc, OnceLock};

use rustls::{
    DigitallySignedStruct, Error as TlsError, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::CryptoProvider,
    pki_types::{CertificateDer, ServerName, UnixTime},
};
use rustls_platform_verifier::Verifier;

/// The client configuration every LiveChat connection uses: HTTP/1.1, the platform's roots.
pub fn client_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                // The ring provider supports the default versions: this cannot fail.
                .expect("the ring provider supports TLS 1.2 and 1.3")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(LazyPlatformVerifier::new(provider)))
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(config)
        })
        .clone()
}

/// The platform verifier, made at the first certificate it is asked to check. A failure to
/// make it (no readable root certificate) fails that handshake with the reason, and the next
/// handshake tries again.
#[derive(Debug)]
struct LazyPlatformVerifier {
    provider: Arc<CryptoProvider>,
    inner: OnceLock<Arc<Verifier>>,
}

impl LazyPlatformVerifier {
    fn new(provider: Arc<CryptoProvider>) -> LazyPlatformVerifier {
        LazyPlatformVerifier {
            provider,
            inner: OnceLock::new(),
        }
    }

    fn verifier(&self) -> Result<&Verifier, TlsError> {
        if let Some(verifier) = self.inner.get() {
            return Ok(verifier);
        }
        let made = Verifier::new(self.provider.clone()).map_err(|e| {
            TlsError::General(format!(
                "the system's root certificates cannot be used: {e}"
            ))
        })?;
        // Two first handshakes at once may both make one; the first kept is used by both.
        Ok(self.inner.get_or_init(|| Arc::new(made)))
    }
}

impl ServerCertVerifier for LazyPlatformVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.verifier()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.verifier()?.verify_tls13_signature(message, cert, dss)
    }

    /// Asked before any certificate arrives (for the ClientHello), so answered from the
    /// provider, as the platform verifier itself does, without reading a root.
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_hello_needs_no_root_certificate() {
        let verifier =
            LazyPlatformVerifier::new(Arc::new(rustls::crypto::ring::default_provider()));
        // What a ClientHello asks of the verifier does not make the platform verifier.
        assert!(!verifier.supported_verify_schemes().is_empty());
        assert!(verifier.inner.get().is_none());
        let config = client_config();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        // One configuration for the whole process.
        assert!(Arc::ptr_eq(&config, &client_config()));
    }
}
