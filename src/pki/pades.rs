//! Where qianshu's PKI meets the PDF side: the [`Cms`] makers `pdf::pades` signs with (a
//! signing event's CAdES signature, timestamped: PAdES B-T; a document timestamp token) and
//! what a finished contract gets for long-term validation (PAdES B-LTA).

use std::sync::Mutex;

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use const_oid::db::rfc5911::ID_SIGNED_DATA;
use der::{Decode, Encode};
use x509_cert::Certificate;

use super::cms::ID_AA_SIGNATURE_TIME_STAMP_TOKEN;
use super::{Credential, Pki, Timestamper, cert, sign_detached, verify};
use crate::domain::evidence::SignatureCertificate;
use crate::pdf::pades::{self, Cms};

/// Room for a signature: the event certificate and the root, the signed attributes, and a
/// timestamp token carrying its TSA's chain (an external TSA's RSA chain takes several KB).
const SIGNATURE_MAX_LEN: usize = 16 * 1024;
/// Room for a document timestamp token and its TSA's chain.
const TIMESTAMP_MAX_LEN: usize = 12 * 1024;

/// A signature by `credential`, timestamped by `timestamper` (B-T): a signing event's, or qianshu's
/// own on an evidence report.
pub struct EventSignature<'a> {
    credential: &'a Credential,
    timestamper: &'a dyn Timestamper,
    /// The token of the signature once made: its time goes into the evidence trail.
    token: Mutex<Option<Vec<u8>>>,
}

impl<'a> EventSignature<'a> {
    pub fn new(credential: &'a Credential, timestamper: &'a dyn Timestamper) -> EventSignature<'a> {
        EventSignature { credential, timestamper, token: Mutex::new(None) }
    }

    /// The signature's certificate and, once signed, its timestamp's time, as the evidence
    /// trail records them.
    pub fn certificate(&self) -> SignatureCertificate {
        let signer = verify::SignerCertificate::of(self.credential.certificate());
        let token = self.token.lock().unwrap_or_else(|e| e.into_inner());
        let timestamp_at = token
            .as_deref()
            .and_then(|der| ContentInfo::from_der(der).ok())
            .and_then(|info| verify::tst_info(&info).ok())
            .and_then(|info| i64::try_from(info.gen_time.to_unix_duration().as_secs()).ok());
        SignatureCertificate {
            serial: signer.serial_hex,
            subject: subject(self.credential.certificate()),
            not_before: signer.not_before,
            not_after: signer.not_after,
            timestamp_at,
        }
    }
}

impl Cms for EventSignature<'_> {
    fn sign(&self, signed: [&[u8]; 2]) -> anyhow::Result<Vec<u8>> {
        sign_detached(self.credential, signed, Some(self))
    }

    fn max_len(&self) -> usize {
        SIGNATURE_MAX_LEN
    }
}

impl Timestamper for EventSignature<'_> {
    fn timestamp(&self, sha256: &[u8; 32]) -> anyhow::Result<Vec<u8>> {
        let token = self.timestamper.timestamp(sha256)?;
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = Some(token.clone());
        Ok(token)
    }
}

/// A document timestamp (`/SubFilter /ETSI.RFC3161`): a token over the signed bytes.
pub struct DocumentTimestamp<'a>(pub &'a dyn Timestamper);

impl Cms for DocumentTimestamp<'_> {
    fn sign(&self, signed: [&[u8]; 2]) -> anyhow::Result<Vec<u8>> {
        self.0.timestamp(&verify::range_digest(signed))
    }

    fn max_len(&self) -> usize {
        TIMESTAMP_MAX_LEN
    }
}

/// `CN=…, O=…` of a certificate's subject.
fn subject(certificate: &Certificate) -> String {
    let name = &certificate.tbs_certificate.subject;
    let parts = [("CN", cert::common_name(name)), ("O", cert::organization(name))];
    parts.iter().filter_map(|(key, value)| value.as_ref().map(|v| format!("{key}={v}"))).collect::<Vec<_>>().join(", ")
}

/// A complete contract made verifiable offline (PAdES B-LTA): `signed` plus one update adding
/// the document security store (every certificate its signatures and their timestamps carry,
/// the TSA's and the root, and the root's CRL) and one adding a document timestamp.
pub fn long_term(signed: &[u8], pki: &Pki) -> anyhow::Result<Vec<u8>> {
    let mut certificates = Vec::new();
    for signature in pades::signatures(signed)? {
        certificates_of(&signature.cms, &mut certificates)?;
    }
    for certificate in [pki.tsa().credential().certificate(), pki.root_certificate()] {
        let der = certificate.to_der()?;
        if !certificates.contains(&der) {
            certificates.push(der);
        }
    }
    let with_dss = pades::add_dss(signed, &certificates, &[pki.crl()?.to_vec()])?;
    pades::add_document_timestamp(&with_dss, &DocumentTimestamp(pki.timestamper()))
}

/// Adds to `found` the certificates a CMS SignedData carries and those of its signers'
/// timestamp tokens, each once.
fn certificates_of(cms_der: &[u8], found: &mut Vec<Vec<u8>>) -> anyhow::Result<()> {
    let info = ContentInfo::from_der(cms_der)?;
    anyhow::ensure!(info.content_type == ID_SIGNED_DATA, "a signature that is not SignedData");
    let sd = info.content.decode_as::<SignedData>()?;
    for choice in sd.certificates.iter().flat_map(|set| set.0.iter()) {
        if let CertificateChoices::Certificate(c) = choice {
            let der = c.to_der()?;
            if !found.contains(&der) {
                found.push(der);
            }
        }
    }
    for signer in sd.signer_infos.0.iter() {
        let tokens =
            signer.unsigned_attrs.iter().flat_map(|a| a.iter()).filter(|a| a.oid == ID_AA_SIGNATURE_TIME_STAMP_TOKEN);
        for token in tokens.flat_map(|a| a.values.iter()) {
            certificates_of(&token.to_der()?, found)?;
        }
    }
    Ok(())
}
