//! Checking signatures found in a PDF: a detached CAdES signature over two byte ranges, or a
//! document timestamp (a bare TimeStampToken). Whatever the bytes, the answer is a report;
//! nothing here panics on bad input or returns early without saying why.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911::{ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNED_DATA};
use const_oid::db::rfc5912::{
    ECDSA_WITH_SHA_256, ECDSA_WITH_SHA_384, ECDSA_WITH_SHA_512, ID_EC_PUBLIC_KEY, ID_SHA_256, RSA_ENCRYPTION,
    SHA_1_WITH_RSA_ENCRYPTION, SHA_256_WITH_RSA_ENCRYPTION, SHA_384_WITH_RSA_ENCRYPTION, SHA_512_WITH_RSA_ENCRYPTION,
};
use der::asn1::{ObjectIdentifier as Oid, OctetString};
use der::{Decode, Encode};
use p256::ecdsa::signature::Verifier;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_tsp::TstInfo;

use super::cert;
use super::cms::{ID_AA_SIGNATURE_TIME_STAMP_TOKEN, ID_CT_TST_INFO};

/// What checking one signature found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignatureReport {
    /// Why a check could not be made (unreadable bytes, an algorithm qianshu does not verify);
    /// `None` when every check ran.
    pub problem: Option<String>,
    /// The signed bytes hash to the digest the signature signs.
    pub digest_matches: bool,
    /// The signer's key made the signature.
    pub signature_valid: bool,
    /// The signer's certificate is qianshu's root or was issued by it.
    pub chain_trusted: bool,
    pub signer: Option<SignerCertificate>,
    /// As Java names it (`SHA256withECDSA`), or the algorithm's OID when qianshu does not know it.
    pub algorithm: Option<String>,
    /// The signature's timestamp (B-T), or a document timestamp's own time.
    pub timestamp: Option<TimestampReport>,
}

impl SignatureReport {
    /// Intact, made by the certificate's key, under qianshu's root, and so is its timestamp.
    pub fn is_valid(&self) -> bool {
        self.problem.is_none()
            && self.digest_matches
            && self.signature_valid
            && self.chain_trusted
            && self.timestamp.as_ref().is_none_or(|t| t.valid && t.trusted)
    }

    fn unreadable(problem: impl Into<String>) -> SignatureReport {
        SignatureReport { problem: Some(problem.into()), ..Default::default() }
    }
}

/// The signer's certificate, as a report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerCertificate {
    pub common_name: Option<String>,
    pub organization: Option<String>,
    /// Upper-case hex of the serial's minimal big-endian bytes.
    pub serial_hex: String,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
}

impl SignerCertificate {
    pub fn of(certificate: &Certificate) -> SignerCertificate {
        let tbs = &certificate.tbs_certificate;
        SignerCertificate {
            common_name: cert::common_name(&tbs.subject),
            organization: cert::organization(&tbs.subject),
            serial_hex: hex::encode_upper(tbs.serial_number.as_bytes()),
            not_before: cert::unix_seconds(&tbs.validity.not_before),
            not_after: cert::unix_seconds(&tbs.validity.not_after),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampReport {
    /// genTime, unix seconds.
    pub gen_time: i64,
    /// The token is intact, signed by its TSA's key, and stamps what it should.
    pub valid: bool,
    /// The TSA's certificate was issued by qianshu's root.
    pub trusted: bool,
}

/// Checks a detached CMS signature over `signed` against `root`.
pub fn detached(cms_der: &[u8], signed: [&[u8]; 2], root: &Certificate) -> SignatureReport {
    let digest = range_digest(signed);
    let sd = match signed_data(cms_der) {
        Ok(sd) => sd,
        Err(e) => return SignatureReport::unreadable(format!("not a CMS SignedData: {e:#}")),
    };
    let Checked { mut report, signer_info } = check(&sd, &digest, root);
    if let Some(signer_info) = signer_info
        && let Some(attrs) = &signer_info.unsigned_attrs
        && let Some(token) =
            attrs.iter().find(|a| a.oid == ID_AA_SIGNATURE_TIME_STAMP_TOKEN).and_then(|a| a.values.get(0))
    {
        let stamped: [u8; 32] = Sha256::digest(signer_info.signature.as_bytes()).into();
        let timestamp = token.to_der().map_err(anyhow::Error::from).and_then(|der| token_report(&der, &stamped, root));
        match timestamp {
            Ok(t) => report.timestamp = Some(t),
            Err(e) => {
                report.problem = report.problem.or(Some(format!("the signature's timestamp is unreadable: {e:#}")))
            }
        }
    }
    report
}

/// Checks a document timestamp (a bare TimeStampToken) over `signed` against `root`.
pub fn document_timestamp(token_der: &[u8], signed: [&[u8]; 2], root: &Certificate) -> SignatureReport {
    let digest = range_digest(signed);
    let (sd, info) = match signed_data(token_der).and_then(|sd| Ok((tst_info_of(&sd)?, sd))) {
        Ok((info, sd)) => (sd, info),
        Err(e) => return SignatureReport::unreadable(format!("not a TimeStampToken: {e:#}")),
    };
    let Checked { mut report, .. } = check_token(&sd, root);
    report.digest_matches = imprint_is(&info, &digest);
    report.timestamp = Some(TimestampReport {
        gen_time: info.gen_time.to_unix_duration().as_secs() as i64,
        valid: report.digest_matches && report.signature_valid && report.problem.is_none(),
        trusted: report.chain_trusted,
    });
    report
}

/// The TSTInfo inside a token, without checking its signature.
pub fn tst_info(token: &ContentInfo) -> anyhow::Result<TstInfo> {
    anyhow::ensure!(token.content_type == ID_SIGNED_DATA, "the token is not SignedData");
    tst_info_of(&token.content.decode_as::<SignedData>()?)
}

fn tst_info_of(sd: &SignedData) -> anyhow::Result<TstInfo> {
    let encap = &sd.encap_content_info;
    anyhow::ensure!(encap.econtent_type == ID_CT_TST_INFO, "the token's content is not a TSTInfo");
    let content = encap.econtent.as_ref().ok_or_else(|| anyhow::anyhow!("the token has no content"))?;
    Ok(TstInfo::from_der(content.decode_as::<OctetString>()?.as_bytes())?)
}

/// A timestamp token over `stamped` (a SHA-256 digest).
fn token_report(token_der: &[u8], stamped: &[u8; 32], root: &Certificate) -> anyhow::Result<TimestampReport> {
    let sd = signed_data(token_der)?;
    let info = tst_info_of(&sd)?;
    let Checked { report, .. } = check_token(&sd, root);
    Ok(TimestampReport {
        gen_time: info.gen_time.to_unix_duration().as_secs() as i64,
        valid: report.problem.is_none()
            && report.digest_matches
            && report.signature_valid
            && imprint_is(&info, stamped),
        trusted: report.chain_trusted,
    })
}

fn imprint_is(info: &TstInfo, digest: &[u8; 32]) -> bool {
    info.message_imprint.hash_algorithm.oid == ID_SHA_256 && info.message_imprint.hashed_message.as_bytes() == digest
}

/// A token's SignedData checked over its own content, the TSTInfo.
fn check_token<'a>(sd: &'a SignedData, root: &Certificate) -> Checked<'a> {
    let content = sd.encap_content_info.econtent.as_ref().and_then(|c| c.decode_as::<OctetString>().ok());
    match content {
        Some(content) => check(sd, &Sha256::digest(content.as_bytes()).into(), root),
        None => Checked { report: SignatureReport::unreadable("the token has no content"), signer_info: None },
    }
}

/// The SHA-256 of a PDF signature's two byte ranges, as one content: what its CMS (or document
/// timestamp token) signs.
pub(crate) fn range_digest(signed: [&[u8]; 2]) -> [u8; 32] {
    let mut digest = Sha256::new();
    signed.iter().for_each(|r| digest.update(r));
    digest.finalize().into()
}

fn signed_data(der: &[u8]) -> anyhow::Result<SignedData> {
    let info = ContentInfo::from_der(der)?;
    anyhow::ensure!(info.content_type == ID_SIGNED_DATA, "the content is {} rather than SignedData", info.content_type);
    Ok(info.content.decode_as::<SignedData>()?)
}

struct Checked<'a> {
    report: SignatureReport,
    signer_info: Option<&'a SignerInfo>,
}

/// The one signer of `sd` over content whose SHA-256 is `digest`.
fn check<'a>(sd: &'a SignedData, digest: &[u8; 32], root: &Certificate) -> Checked<'a> {
    let mut report = SignatureReport::default();
    let signer_infos: Vec<&SignerInfo> = sd.signer_infos.0.iter().collect();
    let [signer_info] = signer_infos[..] else {
        report.problem = Some(format!("{} signers where one was expected", signer_infos.len()));
        return Checked { report, signer_info: None };
    };
    report.algorithm = Some(algorithm_name(signer_info.signature_algorithm.oid, signer_info.digest_alg.oid));
    let certificates: Vec<&Certificate> = sd
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    let signer = certificates.iter().copied().find(|c| identifies(&signer_info.sid, c));
    if let Some(signer) = signer {
        report.signer = Some(SignerCertificate::of(signer));
        report.chain_trusted = signer.to_der().ok() == root.to_der().ok()
            || (cert::issued_by(signer, root) && signer.tbs_certificate.issuer == root.tbs_certificate.subject);
    } else {
        report.problem = Some("the signer's certificate is not in the signature".into());
    }
    if signer_info.digest_alg.oid != ID_SHA_256 {
        report.problem = report.problem.or(Some(format!("the digest {} is not checked", signer_info.digest_alg.oid)));
        return Checked { report, signer_info: Some(signer_info) };
    }
    let Some(signed_attrs) = &signer_info.signed_attrs else {
        report.problem = report.problem.or(Some("no signed attributes".into()));
        return Checked { report, signer_info: Some(signer_info) };
    };
    let attribute = |oid: ObjectIdentifier| signed_attrs.iter().find(|a| a.oid == oid).and_then(|a| a.values.get(0));
    let signed_digest = attribute(ID_MESSAGE_DIGEST).and_then(|v| v.decode_as::<OctetString>().ok());
    let content_type = attribute(ID_CONTENT_TYPE).and_then(|v| v.decode_as::<Oid>().ok());
    report.digest_matches = signed_digest.is_some_and(|d| d.as_bytes() == digest)
        && content_type == Some(sd.encap_content_info.econtent_type);
    let verifiable = matches!(signer_info.signature_algorithm.oid, ECDSA_WITH_SHA_256 | ID_EC_PUBLIC_KEY);
    match signer {
        Some(signer) if verifiable => {
            report.signature_valid = (|| -> anyhow::Result<bool> {
                let key = cert::public_key(signer)?;
                let signature = p256::ecdsa::Signature::from_der(signer_info.signature.as_bytes())?;
                Ok(key.verify(&signed_attrs.to_der()?, &signature).is_ok())
            })()
            .unwrap_or_else(|e| {
                report.problem = report.problem.clone().or(Some(format!("the signature is not checked: {e:#}")));
                false
            });
        }
        Some(_) => {
            report.problem = report.problem.clone().or(Some(format!(
                "the signature algorithm {} is not checked",
                report.algorithm.as_deref().unwrap_or_default()
            )))
        }
        None => {}
    }
    Checked { report, signer_info: Some(signer_info) }
}

fn identifies(sid: &SignerIdentifier, certificate: &Certificate) -> bool {
    let tbs = &certificate.tbs_certificate;
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => id.issuer == tbs.issuer && id.serial_number == tbs.serial_number,
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            cert::public_key(certificate).is_ok_and(|k| cert::key_identifier(&k) == ski.0)
                || tbs.extensions.iter().flatten().any(|e| {
                    e.extn_id == const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER
                        && OctetString::from_der(e.extn_value.as_bytes()).is_ok_and(|v| v == ski.0)
                })
        }
    }
}

/// Java's names, which validators and Tencent's results use.
fn algorithm_name(signature: ObjectIdentifier, digest: ObjectIdentifier) -> String {
    let digest_name = match digest {
        ID_SHA_256 => "SHA256",
        const_oid::db::rfc5912::ID_SHA_384 => "SHA384",
        const_oid::db::rfc5912::ID_SHA_512 => "SHA512",
        const_oid::db::rfc5912::ID_SHA_1 => "SHA1",
        _ => "",
    };
    match signature {
        ECDSA_WITH_SHA_256 => "SHA256withECDSA".into(),
        ECDSA_WITH_SHA_384 => "SHA384withECDSA".into(),
        ECDSA_WITH_SHA_512 => "SHA512withECDSA".into(),
        SHA_256_WITH_RSA_ENCRYPTION => "SHA256withRSA".into(),
        SHA_384_WITH_RSA_ENCRYPTION => "SHA384withRSA".into(),
        SHA_512_WITH_RSA_ENCRYPTION => "SHA512withRSA".into(),
        SHA_1_WITH_RSA_ENCRYPTION => "SHA1withRSA".into(),
        ID_EC_PUBLIC_KEY if !digest_name.is_empty() => format!("{digest_name}withECDSA"),
        RSA_ENCRYPTION if !digest_name.is_empty() => format!("{digest_name}withRSA"),
        other => other.to_string(),
    }
}
