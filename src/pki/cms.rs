//! CMS SignedData as PAdES and RFC 3161 want it: detached CAdES signatures over a PDF's two
//! byte ranges, and the SignedData inside a timestamp token. Built from `cms` structures by hand
//! (the builder's trait bounds buy nothing here), no I/O.

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
    UnsignedAttributes,
};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911::{
    ID_AA_SIGNING_CERTIFICATE_V_2, ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST, ID_SIGNED_DATA,
};
use const_oid::db::rfc5912::ID_SHA_256;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence};
use p256::ecdsa::{DerSignature, signature::Signer};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;

use super::Credential;
use super::cert::ecdsa_with_sha256;
use super::tsa::Timestamper;

/// id-aa-signatureTimeStampToken (RFC 3161 appendix A): the unsigned attribute of a B-T signature.
pub const ID_AA_SIGNATURE_TIME_STAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
/// id-ct-TSTInfo: the content type of a timestamp token's SignedData.
pub const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");

/// ESS SigningCertificateV2 (RFC 5035): binds the signer's certificate into what is signed.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificateV2 {
    pub certs: Vec<EssCertIdV2>,
}

/// ESSCertIDv2 with the default hash (SHA-256), which DER leaves out.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertIdV2 {
    pub cert_hash: OctetString,
    pub issuer_serial: IssuerSerial,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct IssuerSerial {
    pub issuer: Vec<GeneralName>,
    pub serial_number: SerialNumber,
}

pub fn sha256_algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid: ID_SHA_256, parameters: None }
}

/// A detached CAdES signature (PAdES `ETSI.CAdES.detached`) over the two byte ranges of a PDF
/// signature, as DER ContentInfo. Signed attributes: content-type, message-digest and
/// signing-certificate-v2, and no signing-time (PAdES puts the time in `/M`). With a
/// timestamper, the signature is timestamped (B-T).
pub fn sign_detached(
    credential: &Credential,
    signed: [&[u8]; 2],
    timestamper: Option<&dyn super::tsa::Timestamper>,
) -> anyhow::Result<Vec<u8>> {
    signed_data(credential, ID_DATA, None, super::verify::range_digest(signed), timestamper, true)
}

/// SignedData of `content_type` signed by `credential`: `econtent` inside, or detached when
/// `None`; `digest` is the SHA-256 of the content. With `certificates`, the signer's
/// certificate and its issuers go along.
pub(super) fn signed_data(
    credential: &Credential,
    content_type: ObjectIdentifier,
    econtent: Option<&[u8]>,
    digest: [u8; 32],
    timestamper: Option<&dyn Timestamper>,
    certificates: bool,
) -> anyhow::Result<Vec<u8>> {
    let signer = &credential.certificate;
    let signed_attrs: SignedAttributes = SetOfVec::try_from(vec![
        attribute(ID_CONTENT_TYPE, Any::encode_from(&content_type)?)?,
        attribute(ID_MESSAGE_DIGEST, Any::encode_from(&OctetString::new(digest)?)?)?,
        attribute(ID_AA_SIGNING_CERTIFICATE_V_2, Any::encode_from(&signing_certificate_v2(signer)?)?)?,
    ])?;
    let signature: DerSignature = credential.key.sign(&signed_attrs.to_der()?);
    let unsigned_attrs: Option<UnsignedAttributes> = match timestamper {
        Some(t) => {
            let token = t.timestamp(&Sha256::digest(signature.as_bytes()).into())?;
            Some(SetOfVec::try_from(vec![attribute(ID_AA_SIGNATURE_TIME_STAMP_TOKEN, Any::from_der(&token)?)?])?)
        }
        None => None,
    };
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: signer.tbs_certificate.issuer.clone(),
            serial_number: signer.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: sha256_algorithm(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: ecdsa_with_sha256(),
        signature: OctetString::new(signature.as_bytes())?,
        unsigned_attrs,
    };
    let chain = std::iter::once(signer)
        .chain(&credential.chain)
        .map(|c| CertificateChoices::Certificate(c.clone()))
        .collect::<Vec<_>>();
    let signed_data = SignedData {
        // RFC 5652 §5.1: v3 when the content is not id-data.
        version: if content_type == ID_DATA { CmsVersion::V1 } else { CmsVersion::V3 },
        digest_algorithms: SetOfVec::try_from(vec![sha256_algorithm()])?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: content_type,
            econtent: econtent.map(|c| Any::encode_from(&OctetString::new(c)?)).transpose()?,
        },
        certificates: if certificates { Some(CertificateSet(SetOfVec::try_from(chain)?)) } else { None },
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info])?),
    };
    Ok(ContentInfo { content_type: ID_SIGNED_DATA, content: Any::encode_from(&signed_data)? }.to_der()?)
}

fn attribute(oid: ObjectIdentifier, value: Any) -> anyhow::Result<Attribute> {
    Ok(Attribute { oid, values: SetOfVec::try_from(vec![value])? })
}

fn signing_certificate_v2(signer: &Certificate) -> anyhow::Result<SigningCertificateV2> {
    Ok(SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            cert_hash: OctetString::new(Sha256::digest(signer.to_der()?).as_slice())?,
            issuer_serial: IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(signer.tbs_certificate.issuer.clone())],
                serial_number: signer.tbs_certificate.serial_number.clone(),
            },
        }],
    })
}
