//! qianshu's own certificate authority: the root (made on first start or imported), the
//! timestamp authority under it, organisations' certificates, event certificates, CMS
//! signatures, their verification and the CRL. Every key is ECDSA P-256. The root, TSA and
//! organisation keys live in the database sealed under the master key, so every node shares them.

pub mod cert;
pub mod cms;
pub mod pades;
pub mod routes;
pub mod tsa;
pub mod verify;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use der::asn1::BitString;
use der::pem::LineEnding;
use der::{DecodePem, Encode, EncodePem};
use p256::ecdsa::{DerSignature, SigningKey, signature::Signer};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use secrecy::{ExposeSecret, SecretString};
use tracing::info;
use x509_cert::Certificate;
use x509_cert::crl::{CertificateList, TbsCertList};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlNumber};
use x509_cert::name::Name;

pub use cms::sign_detached;
pub use tsa::{HttpTimestamper, Timestamper, Tsa};
pub use verify::SignatureReport;

use crate::store::Store;
use crate::store::pki::StoredCredential;

/// How long the root made on first start is valid.
const ROOT_VALIDITY: Duration = Duration::from_secs(20 * 365 * 24 * 3600);
/// The TSA's and organisations' certificates.
const LONG_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// An event certificate's key signs once, at once, and is then dropped: its certificate need
/// only outlive that moment. A day lets a validator without the timestamp (pdfsig checks at the
/// present time) see it valid on the day; later, the B-T timestamp and the LTA document
/// timestamp prove it was valid when used.
pub const EVENT_VALIDITY: Duration = Duration::from_secs(24 * 3600);
/// Certificates start this far back, for nodes and validators whose clocks run behind.
const CLOCK_SKEW: Duration = Duration::from_secs(10 * 60);
/// How long one CRL is served before a fresh one is signed, and how far its nextUpdate lies.
const CRL_REFRESH: Duration = Duration::from_secs(3600);
const CRL_NEXT_UPDATE: Duration = Duration::from_secs(24 * 3600);

const ROOT: &str = "root";
const TSA: &str = "tsa";
const PLATFORM: &str = "platform";
const ROOT_NAME: &str = "qianshu Root CA";
const TSA_NAME: &str = "qianshu Timestamp Authority";
/// qianshu itself, as the signer of the documents it issues (evidence reports).
pub const PLATFORM_NAME: &str = "qianshu";

/// Where the root comes from when the operator brings one (`--ca-cert`, `--ca-key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PkiSettings {
    /// `None`: the root made on first start.
    pub ca: Option<CaFiles>,
    /// An external RFC 3161 TSA for signatures' timestamps; `None`: the built-in one.
    pub tsa_url: Option<String>,
}

/// A private key and its certificate, with the issuers' certificates up to the root.
pub struct Credential {
    key: SigningKey,
    certificate: Certificate,
    chain: Vec<Certificate>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let subject = cert::common_name(&self.certificate.tbs_certificate.subject).unwrap_or_default();
        write!(f, "Credential(CN={subject}, serial {}, key ***)", self.serial_hex())
    }
}

impl Credential {
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// Upper-case hex of the certificate's serial.
    pub fn serial_hex(&self) -> String {
        hex::encode_upper(self.certificate.tbs_certificate.serial_number.as_bytes())
    }

    /// A signature over `data`, ECDSA P-256 with SHA-256, DER-encoded.
    fn sign(&self, data: &[u8]) -> Vec<u8> {
        let signature: DerSignature = self.key.sign(data);
        signature.as_bytes().to_vec()
    }

    fn from_stored(stored: &StoredCredential, chain: Vec<Certificate>, what: &str) -> anyhow::Result<Credential> {
        let certificate = Certificate::from_pem(stored.certificate.as_bytes())
            .with_context(|| format!("the stored {what} certificate"))?;
        let key = SigningKey::from_pkcs8_pem(stored.private_key.expose_secret())
            .map_err(|_| anyhow::anyhow!("the stored {what} key is not a PKCS#8 P-256 key"))?;
        matching(&certificate, &key).with_context(|| format!("the stored {what} credential"))?;
        Ok(Credential { key, certificate, chain })
    }

    fn to_stored(&self) -> anyhow::Result<(String, SecretString)> {
        let pem = self.certificate.to_pem(LineEnding::LF)?;
        let key = self.key.to_pkcs8_pem(LineEnding::LF).map_err(|_| anyhow::anyhow!("encoding a private key"))?;
        Ok((pem, SecretString::from(key.as_str())))
    }
}

fn matching(certificate: &Certificate, key: &SigningKey) -> anyhow::Result<()> {
    if cert::public_key(certificate)? != *key.verifying_key() {
        bail!("the private key is not the certificate's");
    }
    Ok(())
}

/// Whom an event certificate names.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The signer's name (CN).
    pub name: &'a str,
    /// The organisation (O), for employees and seals.
    pub organization: Option<&'a str>,
}

/// The certificate authority as every part of qianshu uses it.
pub struct Pki {
    root: Credential,
    root_pem: String,
    tsa: Arc<Tsa>,
    platform: Credential,
    /// Timestamps signatures: the built-in TSA, or the external one of `--tsa-url`.
    timestamper: Arc<dyn Timestamper>,
    crl_url: String,
    store: Store,
    organizations: Mutex<HashMap<String, Arc<Credential>>>,
    crl: Mutex<Option<(SystemTime, Arc<Vec<u8>>)>>,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pki(root {:?}, tsa {:?})", self.root, self.tsa)
    }
}

impl Pki {
    /// The root and the TSA from the database, made (or imported) by the first node to start.
    /// An imported root must be the stored one: qianshu never replaces a CA behind the
    /// operator's back.
    pub async fn load(store: &Store, settings: &PkiSettings, public_url: &str) -> anyhow::Result<Pki> {
        let imported = settings.ca.as_ref().map(read_ca_files).transpose()?;
        let stored = match store.pki_credential(ROOT).await? {
            Some(stored) => stored,
            None => {
                let root = match &imported {
                    Some(root) => root.clone(),
                    None => new_root()?,
                };
                let (pem, key) = Credential { key: root.1, certificate: root.0, chain: Vec::new() }.to_stored()?;
                store.insert_pki_credential(ROOT, &pem, &key).await?
            }
        };
        let root = Credential::from_stored(&stored, Vec::new(), "root")?;
        if let Some((certificate, _)) = &imported
            && certificate != &root.certificate
        {
            bail!(
                "--ca-cert (QIANSHU_CA_CERT) is not the root CA this database already has (`{}`, serial {}); \
                 qianshu never replaces its CA: start without --ca-cert/--ca-key, or with the stored root",
                cert::common_name(&root.certificate.tbs_certificate.subject).unwrap_or_default(),
                root.serial_hex()
            );
        }
        let crl_url = format!("{}/pki/crl", public_url.trim_end_matches('/'));
        let tsa = Arc::new(Tsa { credential: long_lived(store, &root, TSA, &crl_url, TsaOrSigner::Tsa).await? });
        let timestamper: Arc<dyn Timestamper> = match &settings.tsa_url {
            Some(url) => {
                info!("signatures are timestamped by {url}");
                Arc::new(HttpTimestamper::new(url, tokio::runtime::Handle::current())?)
            }
            None => tsa.clone(),
        };
        let platform = long_lived(store, &root, PLATFORM, &crl_url, TsaOrSigner::Platform).await?;
        let root_pem = root.certificate.to_pem(LineEnding::LF)?;
        Ok(Pki {
            root,
            root_pem,
            tsa,
            platform,
            timestamper,
            crl_url,
            store: store.clone(),
            organizations: Mutex::default(),
            crl: Mutex::default(),
        })
    }

    pub fn root_certificate(&self) -> &Certificate {
        &self.root.certificate
    }

    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    pub fn tsa(&self) -> &Tsa {
        &self.tsa
    }

    /// qianshu's own long-lived signing certificate (CN and O "qianshu"), for the documents it
    /// issues: made by the first node to start, then shared like the TSA's.
    pub fn platform_credential(&self) -> &Credential {
        &self.platform
    }

    /// What timestamps signatures: the built-in TSA unless `--tsa-url` names another.
    pub fn timestamper(&self) -> &dyn Timestamper {
        &*self.timestamper
    }

    /// A fresh key and a certificate for it, valid for [`EVENT_VALIDITY`], for one signing event.
    pub fn event_credential(&self, subject: Subject<'_>) -> anyhow::Result<Credential> {
        let key = cert::new_key();
        let now = SystemTime::now();
        let certificate = cert::issue(
            cert::Kind::Signer { crl_url: &self.crl_url },
            cert::Issuer { name: &self.root.certificate.tbs_certificate.subject, key: &self.root.key },
            cert::name(subject.name, subject.organization)?,
            key.verifying_key(),
            now - CLOCK_SKEW,
            now + EVENT_VALIDITY,
        )?;
        Ok(Credential { key, certificate, chain: vec![self.root.certificate.clone()] })
    }

    /// The organisation's own long-lived certificate (CN and O its name), for its automatic
    /// signatures: made by the first node that needs it, then shared.
    pub async fn organization_credential(
        &self,
        app_id: &str,
        open_id: &str,
        name: &str,
    ) -> anyhow::Result<Arc<Credential>> {
        let row = format!("organization/{app_id}/{open_id}/{name}");
        if let Some(found) = self.organizations.lock().expect("not poisoned").get(&row) {
            return Ok(found.clone());
        }
        let credential =
            Arc::new(long_lived(&self.store, &self.root, &row, &self.crl_url, TsaOrSigner::Organization(name)).await?);
        self.organizations.lock().expect("not poisoned").insert(row, credential.clone());
        Ok(credential)
    }

    /// Checks a detached CMS signature over a PDF's two byte ranges.
    pub fn verify_detached(&self, cms_der: &[u8], signed: [&[u8]; 2]) -> SignatureReport {
        verify::detached(cms_der, signed, &self.root.certificate)
    }

    /// Checks a document timestamp (`/SubFilter /ETSI.RFC3161`) over a PDF's two byte ranges.
    pub fn verify_document_timestamp(&self, token_der: &[u8], signed: [&[u8]; 2]) -> SignatureReport {
        verify::document_timestamp(token_der, signed, &self.root.certificate)
    }

    /// The root's CRL (DER): nothing revoked yet. One is signed per [`CRL_REFRESH`].
    pub fn crl(&self) -> anyhow::Result<Arc<Vec<u8>>> {
        let now = SystemTime::now();
        let mut cached = self.crl.lock().expect("not poisoned");
        if let Some((made, crl)) = &*cached
            && now.duration_since(*made).is_ok_and(|age| age < CRL_REFRESH)
        {
            return Ok(crl.clone());
        }
        let crl = Arc::new(self.sign_crl(now)?);
        *cached = Some((now, crl.clone()));
        Ok(crl)
    }

    fn sign_crl(&self, now: SystemTime) -> anyhow::Result<Vec<u8>> {
        let issuer: &Name = &self.root.certificate.tbs_certificate.subject;
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(cert::key_identifier(self.root.key.verifying_key())),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        // Seconds since 1970 increase from one CRL to the next, on every node.
        let number = now.duration_since(SystemTime::UNIX_EPOCH)?.as_secs().to_be_bytes();
        let extensions = vec![
            x509_cert::ext::AsExtension::to_extension(&aki, issuer, &[])?,
            x509_cert::ext::AsExtension::to_extension(&CrlNumber(der::asn1::Uint::new(&number)?), issuer, &[])?,
        ];
        let tbs = TbsCertList {
            version: x509_cert::Version::V2,
            signature: cert::ecdsa_with_sha256(),
            issuer: issuer.clone(),
            this_update: cert::x509_time(now)?,
            next_update: Some(cert::x509_time(now + CRL_NEXT_UPDATE)?),
            revoked_certificates: None,
            crl_extensions: Some(extensions),
        };
        let signature = self.root.sign(&tbs.to_der()?);
        Ok(CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: cert::ecdsa_with_sha256(),
            signature: BitString::from_bytes(&signature)?,
        }
        .to_der()?)
    }
}

fn new_root() -> anyhow::Result<(Certificate, SigningKey)> {
    let key = cert::new_key();
    let subject = cert::name(ROOT_NAME, Some("qianshu"))?;
    let now = SystemTime::now();
    let certificate = cert::issue(
        cert::Kind::Root,
        cert::Issuer { name: &subject, key: &key },
        subject.clone(),
        key.verifying_key(),
        now - CLOCK_SKEW,
        now + ROOT_VALIDITY,
    )?;
    info!("made a new root CA, serial {}", hex::encode_upper(certificate.tbs_certificate.serial_number.as_bytes()));
    Ok((certificate, key))
}

/// The operator's root: a PEM certificate and its PKCS#8 P-256 key (PEM).
fn read_ca_files(files: &CaFiles) -> anyhow::Result<(Certificate, SigningKey)> {
    let pem = std::fs::read(&files.certificate)
        .with_context(|| format!("reading --ca-cert {}", files.certificate.display()))?;
    let certificate = Certificate::from_pem(&pem)
        .with_context(|| format!("--ca-cert {} is not a PEM certificate", files.certificate.display()))?;
    let key_pem = SecretString::from(
        std::fs::read_to_string(&files.key).with_context(|| format!("reading --ca-key {}", files.key.display()))?,
    );
    // The parser's error is not passed on: it could quote the key.
    let key = SigningKey::from_pkcs8_pem(key_pem.expose_secret())
        .map_err(|_| anyhow::anyhow!("--ca-key {} is not a PKCS#8 PEM ECDSA P-256 private key", files.key.display()))?;
    matching(&certificate, &key).with_context(|| format!("--ca-key {}", files.key.display()))?;
    Ok((certificate, key))
}

enum TsaOrSigner<'a> {
    Tsa,
    Platform,
    Organization(&'a str),
}

/// A long-lived credential under the root, made by the first node that needs it. A stored one
/// that the root did not issue (the root was replaced in the database by hand) is an error.
async fn long_lived(
    store: &Store,
    root: &Credential,
    row: &str,
    crl_url: &str,
    kind: TsaOrSigner<'_>,
) -> anyhow::Result<Credential> {
    let stored = match store.pki_credential(row).await? {
        Some(stored) => stored,
        None => {
            let key = cert::new_key();
            let now = SystemTime::now();
            let (kind, subject) = match kind {
                TsaOrSigner::Tsa => (cert::Kind::TimeStamping { crl_url }, cert::name(TSA_NAME, Some("qianshu"))?),
                TsaOrSigner::Platform => {
                    (cert::Kind::Signer { crl_url }, cert::name(PLATFORM_NAME, Some(PLATFORM_NAME))?)
                }
                TsaOrSigner::Organization(name) => (cert::Kind::Signer { crl_url }, cert::name(name, Some(name))?),
            };
            let certificate = cert::issue(
                kind,
                cert::Issuer { name: &root.certificate.tbs_certificate.subject, key: &root.key },
                subject,
                key.verifying_key(),
                now - CLOCK_SKEW,
                now + LONG_VALIDITY,
            )?;
            let (pem, key) = Credential { key, certificate, chain: Vec::new() }.to_stored()?;
            store.insert_pki_credential(row, &pem, &key).await?
        }
    };
    let credential = Credential::from_stored(&stored, vec![root.certificate.clone()], row)?;
    if !cert::issued_by(&credential.certificate, &root.certificate) {
        bail!("the stored {row} certificate was not issued by the stored root CA");
    }
    Ok(credential)
}
