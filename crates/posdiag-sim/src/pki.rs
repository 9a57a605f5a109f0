//! A throw-away PKI generated in memory: one CA and three server certificates it signed
//! (valid, expired, wrong host), so TLS tests exercise real certificate verification without
//! files. One [`Pki`] can back several simulated hosts, so a client needs a single trust anchor.

use std::fmt;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

use crate::SimError;

/// The names the valid and expired certificates are issued for.
pub const VALID_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];
/// The only name the wrong-host certificate is issued for.
pub const WRONG_HOST_NAME: &str = "wrong.example";

/// Which server certificate a host presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafKind {
    /// For `localhost` and `127.0.0.1`, valid from yesterday for a year.
    Valid,
    /// For `localhost` and `127.0.0.1`, valid only during 2020.
    Expired,
    /// For `wrong.example` only, valid from yesterday for a year.
    WrongHost,
}

struct Leaf {
    cert: CertificateDer<'static>,
    /// PKCS#8 DER of the leaf's private key.
    key: Vec<u8>,
}

/// A test CA and the leaf certificates it signed.
pub struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    valid: Leaf,
    expired: Leaf,
    wrong_host: Leaf,
}

impl fmt::Debug for Pki {
    // Keys stay out of logs even though they are throw-away: the habit matters more.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pki")
            .field("ca_der_bytes", &self.ca_der.len())
            .finish_non_exhaustive()
    }
}

impl Pki {
    /// Generates a fresh CA (ECDSA P-256) and its three leaf certificates.
    pub fn generate() -> Result<Self, SimError> {
        let now = OffsetDateTime::now_utc();

        let mut ca_params = CertificateParams::default();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "posdiag-sim test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        // Starts before the expired leaf so the chain looks like one a real CA could have issued.
        ca_params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        ca_params.not_after = now + Duration::days(3650);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

        let valid_from = now - Duration::days(1);
        let valid_until = now + Duration::days(365);
        let valid = issue_leaf(&ca, &VALID_NAMES, valid_from, valid_until)?;
        let expired = issue_leaf(
            &ca,
            &VALID_NAMES,
            rcgen::date_time_ymd(2020, 1, 1),
            rcgen::date_time_ymd(2021, 1, 1),
        )?;
        let wrong_host = issue_leaf(&ca, &[WRONG_HOST_NAME], valid_from, valid_until)?;

        Ok(Self {
            ca_pem: ca.pem(),
            ca_der: ca.der().clone(),
            valid,
            expired,
            wrong_host,
        })
    }

    /// The CA certificate in PEM, for a client's trust store or `--ca-out`.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA certificate in DER.
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// The chain `[leaf, ca]` a host of the given kind presents.
    pub fn chain(&self, kind: LeafKind) -> Vec<CertificateDer<'static>> {
        vec![self.leaf(kind).cert.clone(), self.ca_der.clone()]
    }

    /// A rustls server configuration (ring provider, safe default versions, no client auth)
    /// presenting the chosen leaf certificate.
    pub fn server_config(&self, kind: LeafKind) -> Result<ServerConfig, SimError> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf(kind).key.clone()));
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_single_cert(self.chain(kind), key)?;
        Ok(config)
    }

    /// A rustls client configuration (ring provider) trusting only this CA.
    pub fn client_config(&self) -> Result<ClientConfig, SimError> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone())?;
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
        Ok(config)
    }

    fn leaf(&self, kind: LeafKind) -> &Leaf {
        match kind {
            LeafKind::Valid => &self.valid,
            LeafKind::Expired => &self.expired,
            LeafKind::WrongHost => &self.wrong_host,
        }
    }
}

fn issue_leaf(
    ca: &CertifiedIssuer<'_, KeyPair>,
    names: &[&str],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<Leaf, SimError> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names.clone())?;
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before;
    params.not_after = not_after;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &**ca)?;
    Ok(Leaf {
        cert: cert.der().clone(),
        key: key.serialize_der(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_pem_is_a_certificate() {
        let pki = Pki::generate().unwrap();
        assert!(pki.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(pki.chain(LeafKind::Valid).len(), 2);
    }

    #[test]
    fn every_leaf_makes_a_server_config() {
        let pki = Pki::generate().unwrap();
        for kind in [LeafKind::Valid, LeafKind::Expired, LeafKind::WrongHost] {
            pki.server_config(kind).unwrap();
        }
        pki.client_config().unwrap();
    }
}
