//! TLS for the stand-ins of outside services (API Live, portal.js): a
//! certificate made for the names a test serves, which only that test
//! trusts.

use std::sync::Arc;

use rcgen::PublicKeyData as _;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// A self-signed certificate, and what serves it.
pub struct SelfSigned {
    /// Accepts TLS connections with the certificate.
    pub acceptor: TlsAcceptor,
    /// The certificate, for a client's roots.
    pub cert: CertificateDer<'static>,
    /// The key's `SubjectPublicKeyInfo`, DER, for Chromium's
    /// `--ignore-certificate-errors-spki-list` (its SHA-256, base64).
    pub spki: Vec<u8>,
}

/// A certificate for `names` (host names or IP addresses), with rustls's
/// aws-lc-rs provider, as the crate's client uses.
pub fn self_signed(names: Vec<String>) -> SelfSigned {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(names).expect("a self-signed certificate");
    let key = PrivatePkcs8KeyDer::from(signing_key.serialize_der());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key.into())
        .expect("the certificate and its key");
    SelfSigned {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        cert: cert.der().clone(),
        spki: signing_key.subject_public_key_info(),
    }
}
