//! A throw-away PKI for the mutual-TLS tests and benchmarks, written to a
//! temporary directory as PEM files: the site's CA (it signs the server
//! certificate and the help desk's client certificates) and a stranger's CA.
//!
//! Files: `ca.pem`, `stranger-ca.pem`; `server` (IP SAN 127.0.0.1 only, so
//! `localhost` is a wrong server name); clients `alice` (URI SAN
//! spiffe://chain.example/helpdesk/alice), `carol` (e-mail SAN
//! carol@chain.example), `bob` (CN bob-no-role only), `old` (alice's URI,
//! expired), `mallory` (alice's URI, signed by the stranger's CA); each as
//! `NAME.pem` and `NAME.key`.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

/// A throw-away PKI: the site's CA (server and help-desk clients), a
/// stranger's CA, and the certificates the tests present.
#[derive(Debug)]
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, name);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        p.not_before = OffsetDateTime::now_utc() - Duration::days(3650);
        p.not_after = OffsetDateTime::now_utc() + Duration::days(3650);
        CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
    }

    fn leaf(
        &self,
        ca: &CertifiedIssuer<'_, KeyPair>,
        file: &str,
        sans: Vec<SanType>,
        cn: &str,
        server: bool,
        expired: bool,
    ) {
        let mut p = CertificateParams::default();
        p.subject_alt_names = sans;
        p.distinguished_name.push(DnType::CommonName, cn);
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        p.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        if expired {
            p.not_before = now - Duration::days(400);
            p.not_after = now - Duration::days(30);
        } else {
            p.not_before = now - Duration::days(1);
            p.not_after = now + Duration::days(365);
        }
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &**ca).unwrap();
        std::fs::write(self.path(&format!("{file}.pem")), cert.pem()).unwrap();
        std::fs::write(self.path(&format!("{file}.key")), key.serialize_pem()).unwrap();
    }

    /// The file `f` of the PKI.
    pub fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }

    /// Generates the CAs and every certificate.
    pub fn generate() -> Pki {
        let pki = Pki {
            dir: tempfile::tempdir().unwrap(),
        };
        let site = Pki::ca("store chain CA");
        let stranger = Pki::ca("someone else's CA");
        std::fs::write(pki.path("ca.pem"), site.pem()).unwrap();
        std::fs::write(pki.path("stranger-ca.pem"), stranger.pem()).unwrap();
        let ip = SanType::IpAddress("127.0.0.1".parse().unwrap());
        pki.leaf(
            &site,
            "server",
            vec![ip],
            "posdiagd store 0042",
            true,
            false,
        );
        let uri = |u: &str| SanType::URI(u.try_into().unwrap());
        pki.leaf(
            &site,
            "alice",
            vec![uri("spiffe://chain.example/helpdesk/alice")],
            "Alice",
            false,
            false,
        );
        pki.leaf(
            &site,
            "carol",
            vec![SanType::Rfc822Name(
                "carol@chain.example".try_into().unwrap(),
            )],
            "Carol",
            false,
            false,
        );
        pki.leaf(&site, "bob", vec![], "bob-no-role", false, false);
        pki.leaf(
            &site,
            "old",
            vec![uri("spiffe://chain.example/helpdesk/alice")],
            "Alice (2025)",
            false,
            true,
        );
        pki.leaf(
            &stranger,
            "mallory",
            vec![uri("spiffe://chain.example/helpdesk/alice")],
            "Mallory",
            false,
            false,
        );
        pki
    }

    /// `--tls-ca`, `--tls-cert`, `--tls-key` for client `who` trusting `ca`.
    pub fn client_args(&self, who: &str, ca: &str) -> Vec<String> {
        vec![
            "--tls-ca".into(),
            self.path(ca).display().to_string(),
            "--tls-cert".into(),
            self.path(&format!("{who}.pem")).display().to_string(),
            "--tls-key".into(),
            self.path(&format!("{who}.key")).display().to_string(),
        ]
    }
}
