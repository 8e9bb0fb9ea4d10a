//! Making keys and certificates: names, serials, validity and the extensions each kind of
//! certificate carries. Pure functions over DER; no I/O.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use const_oid::ObjectIdentifier;
use const_oid::db::rfc4519::{CN as ID_AT_COMMON_NAME, O as ID_AT_ORGANIZATION_NAME};
use const_oid::db::rfc5280::ID_KP_TIME_STAMPING;
use const_oid::db::rfc5912::ECDSA_WITH_SHA_256;
use der::asn1::{BitString, GeneralizedTime, Ia5String, OctetString, SetOfVec, UtcTime, Utf8StringRef};
use der::{Any, Encode};
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey, signature::Signer, signature::Verifier};
use p256::pkcs8::EncodePublicKey;
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::ext::{AsExtension, Extension};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

/// The only signature algorithm qianshu makes: ECDSA on P-256 with SHA-256 (no parameters).
pub fn ecdsa_with_sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid: ECDSA_WITH_SHA_256, parameters: None }
}

/// A fresh P-256 key from the operating system's generator.
pub fn new_key() -> SigningKey {
    use rand::RngCore;
    loop {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        // One scalar in 2^32 is out of range; draw again.
        if let Ok(key) = SigningKey::from_bytes(&bytes.into()) {
            secrecy::zeroize::Zeroize::zeroize(&mut bytes);
            return key;
        }
    }
}

/// A random positive serial of 127 bits, encoded as a minimal DER INTEGER (openssl refuses
/// padded ones). Random rather than counted, so nodes sharing one CA never need to agree.
pub fn random_serial() -> [u8; 16] {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes[0] &= 0x7f;
    // Never zero, and at least 64 significant bits.
    bytes[0] |= 0x40;
    bytes
}

pub fn serial_number(bytes: &[u8]) -> anyhow::Result<SerialNumber> {
    SerialNumber::new(bytes).context("a certificate serial")
}

/// UTCTime until 2049 and GeneralizedTime from 2050, as RFC 5280 §4.1.2.5 asks.
pub fn x509_time(at: SystemTime) -> anyhow::Result<Time> {
    let since_epoch = at.duration_since(UNIX_EPOCH).context("a time before 1970")?;
    let whole = Duration::from_secs(since_epoch.as_secs());
    Ok(match UtcTime::from_unix_duration(whole) {
        Ok(utc) => Time::UtcTime(utc),
        Err(_) => Time::GeneralTime(GeneralizedTime::from_unix_duration(whole)?),
    })
}

/// A distinguished name of a common name and, where given, an organisation, as UTF8Strings
/// (Chinese names), each in its own RDN.
pub fn name(common_name: &str, organization: Option<&str>) -> anyhow::Result<Name> {
    let mut rdns = Vec::new();
    if let Some(o) = organization {
        rdns.push(rdn(ID_AT_ORGANIZATION_NAME, o)?);
    }
    rdns.push(rdn(ID_AT_COMMON_NAME, common_name)?);
    Ok(RdnSequence(rdns))
}

fn rdn(oid: ObjectIdentifier, value: &str) -> anyhow::Result<RelativeDistinguishedName> {
    let value = Any::encode_from(&Utf8StringRef::new(value)?)?;
    Ok(RelativeDistinguishedName(SetOfVec::try_from(vec![AttributeTypeAndValue { oid, value }])?))
}

/// The first UTF8String, PrintableString or IA5String value of `oid` in `name`.
pub fn name_part(name: &Name, oid: ObjectIdentifier) -> Option<String> {
    name.0.iter().flat_map(|rdn| rdn.0.iter()).filter(|atv| atv.oid == oid).find_map(|atv| {
        use der::asn1::{Ia5StringRef, PrintableStringRef};
        atv.value
            .decode_as::<Utf8StringRef<'_>>()
            .map(|s| s.as_str().to_owned())
            .or_else(|_| atv.value.decode_as::<PrintableStringRef<'_>>().map(|s| s.as_str().to_owned()))
            .or_else(|_| atv.value.decode_as::<Ia5StringRef<'_>>().map(|s| s.as_str().to_owned()))
            .ok()
    })
}

pub fn common_name(name: &Name) -> Option<String> {
    name_part(name, ID_AT_COMMON_NAME)
}

pub fn organization(name: &Name) -> Option<String> {
    name_part(name, ID_AT_ORGANIZATION_NAME)
}

/// RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 of the subject public key.
pub fn key_identifier(key: &VerifyingKey) -> OctetString {
    let point = key.to_encoded_point(false);
    OctetString::new(&Sha256::digest(point.as_bytes())[..20]).expect("20 bytes fit an OCTET STRING")
}

/// What a certificate is for, which decides its extensions.
pub enum Kind<'a> {
    Root,
    /// RFC 3161 §2.3: extended key usage timeStamping only, critical.
    TimeStamping {
        crl_url: &'a str,
    },
    /// A signer: an event certificate or an organisation's.
    Signer {
        crl_url: &'a str,
    },
}

/// Who issues: the root's name and key (the root issues itself).
pub struct Issuer<'a> {
    pub name: &'a Name,
    pub key: &'a SigningKey,
}

/// A certificate for `subject_key`, signed by `issuer`, valid from `not_before` to `not_after`.
pub fn issue(
    kind: Kind<'_>,
    issuer: Issuer<'_>,
    subject: Name,
    subject_key: &VerifyingKey,
    not_before: SystemTime,
    not_after: SystemTime,
) -> anyhow::Result<Certificate> {
    let subject_public_key_info = SubjectPublicKeyInfoOwned::from_key(*subject_key)?;
    let ski = SubjectKeyIdentifier(key_identifier(subject_key));
    let mut extensions = Vec::new();
    match kind {
        Kind::Root => {
            extensions.push(extension(&subject, true, &BasicConstraints { ca: true, path_len_constraint: None })?);
            extensions.push(extension(&subject, true, &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))?);
            extensions.push(extension(&subject, false, &ski)?);
        }
        Kind::TimeStamping { crl_url } | Kind::Signer { crl_url } => {
            let (usages, eku) = match kind {
                Kind::TimeStamping { .. } => (KeyUsages::DigitalSignature.into(), Some(ID_KP_TIME_STAMPING)),
                _ => (KeyUsages::DigitalSignature | KeyUsages::NonRepudiation, None),
            };
            extensions.push(extension(&subject, true, &KeyUsage(usages))?);
            if let Some(eku) = eku {
                extensions.push(extension(&subject, true, &ExtendedKeyUsage(vec![eku]))?);
            }
            let aki = AuthorityKeyIdentifier {
                key_identifier: Some(key_identifier(issuer.key.verifying_key())),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            };
            extensions.push(extension(&subject, false, &aki)?);
            extensions.push(extension(&subject, false, &ski)?);
            let uri = GeneralName::UniformResourceIdentifier(Ia5String::new(crl_url).context("the CRL URL")?);
            let points = CrlDistributionPoints(vec![DistributionPoint {
                distribution_point: Some(DistributionPointName::FullName(vec![uri])),
                reasons: None,
                crl_issuer: None,
            }]);
            extensions.push(extension(&subject, false, &points)?);
        }
    }
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: serial_number(&random_serial())?,
        signature: ecdsa_with_sha256(),
        issuer: issuer.name.clone(),
        validity: Validity { not_before: x509_time(not_before)?, not_after: x509_time(not_after)? },
        subject,
        subject_public_key_info,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    let signature: DerSignature = issuer.key.sign(&tbs.to_der()?);
    Ok(Certificate {
        tbs_certificate: tbs,
        signature_algorithm: ecdsa_with_sha256(),
        signature: BitString::from_bytes(signature.as_bytes())?,
    })
}

fn extension(subject: &Name, critical: bool, value: &impl AsExtension) -> anyhow::Result<Extension> {
    let mut extension = value.to_extension(subject, &[])?;
    extension.critical = critical;
    Ok(extension)
}

/// The P-256 public key of a certificate; any other kind of key is an error.
pub fn public_key(certificate: &Certificate) -> anyhow::Result<VerifyingKey> {
    let spki = &certificate.tbs_certificate.subject_public_key_info;
    let bytes = spki.subject_public_key.as_bytes().context("a public key of a fractional byte")?;
    VerifyingKey::from_sec1_bytes(bytes).context("the certificate's key is not an ECDSA P-256 key")
}

/// Whether `issuer` signed `certificate` (its name and ECDSA P-256 signature).
pub fn issued_by(certificate: &Certificate, issuer: &Certificate) -> bool {
    if certificate.tbs_certificate.issuer != issuer.tbs_certificate.subject
        || certificate.signature_algorithm.oid != ECDSA_WITH_SHA_256
    {
        return false;
    }
    let (Ok(key), Ok(tbs), Some(signature)) =
        (public_key(issuer), certificate.tbs_certificate.to_der(), certificate.signature.as_bytes())
    else {
        return false;
    };
    p256::ecdsa::Signature::from_der(signature).is_ok_and(|s| key.verify(&tbs, &s).is_ok())
}

/// The DER of the public key a certificate holds, for comparing a key with a certificate.
pub fn public_key_der(key: &VerifyingKey) -> anyhow::Result<Vec<u8>> {
    Ok(key.to_public_key_der()?.into_vec())
}

/// Unix seconds of a certificate time.
pub fn unix_seconds(time: &Time) -> i64 {
    time.to_unix_duration().as_secs() as i64
}
