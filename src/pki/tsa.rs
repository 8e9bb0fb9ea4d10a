//! RFC 3161 timestamps: the built-in timestamp authority (tokens for qianshu's own signatures
//! and answers to any client at `POST /tsa`), and a client of an external one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use cmpv2::status::{PkiStatus, PkiStatusInfo};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5912::{ID_SHA_1, ID_SHA_256, ID_SHA_384, ID_SHA_512};
use der::asn1::{BitString, GeneralizedTime, Int, OctetString, Uint, Utf8StringRef};
use der::{Decode, Encode, Sequence};
use sha2::{Digest, Sha256};
use x509_tsp::{Accuracy, MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

use super::Credential;
use super::cert::random_serial;
use super::cms::{ID_CT_TST_INFO, sha256_algorithm, signed_data};

/// The policy under which the built-in TSA issues tokens (RFC 3161 §2.4.2 `policy`). qianshu has
/// no private enterprise number of its own: this is under the arc RFC 5612 sets aside for
/// documentation (32473), with 3161.1 for "qianshu built-in TSA, policy 1": clocks are the
/// node's system clock (keep it NTP-synchronised), accuracy one second.
pub const POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.3161.1");

/// What the built-in TSA claims about its clock.
const ACCURACY_SECONDS: u64 = 1;

/// Anything that turns a SHA-256 digest into a DER TimeStampToken (a ContentInfo). Called from
/// the render threads, which are not tokio threads: implementations may block.
pub trait Timestamper: Send + Sync {
    fn timestamp(&self, sha256: &[u8; 32]) -> anyhow::Result<Vec<u8>>;
}

/// The built-in timestamp authority: its own key and certificate (extended key usage
/// timeStamping, critical) under qianshu's root.
pub struct Tsa {
    pub(super) credential: Credential,
}

impl std::fmt::Debug for Tsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tsa({:?})", self.credential)
    }
}

impl Tsa {
    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// A token over a SHA-256 `imprint`, echoing `nonce`; with the TSA and root certificates.
    pub fn token(&self, imprint: &[u8; 32], nonce: Option<Int>) -> anyhow::Result<Vec<u8>> {
        self.token_for(
            MessageImprint { hash_algorithm: sha256_algorithm(), hashed_message: OctetString::new(*imprint)? },
            nonce,
            true,
        )
    }

    fn token_for(&self, imprint: MessageImprint, nonce: Option<Int>, certificates: bool) -> anyhow::Result<Vec<u8>> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).context("the clock is before 1970")?;
        let info = TstInfo {
            version: TspVersion::V1,
            policy: POLICY,
            message_imprint: imprint,
            // Random, like certificate serials: unique across nodes without a shared counter.
            serial_number: Uint::new(&random_serial())?.into(),
            gen_time: GeneralizedTime::from_unix_duration(Duration::from_secs(now.as_secs()))?,
            accuracy: Some(Accuracy { seconds: Some(ACCURACY_SECONDS), millis: None, micros: None }),
            ordering: false,
            nonce,
            tsa: None,
            extensions: None,
        };
        let der = info.to_der()?;
        let digest = Sha256::digest(&der).into();
        signed_data(&self.credential, ID_CT_TST_INFO, Some(&der), digest, None, certificates)
    }

    /// The DER TimeStampResp to a DER TimeStampReq: granted, or a rejection saying why.
    pub fn respond(&self, request: &[u8]) -> Vec<u8> {
        let answer = match TimeStampReq::from_der(request) {
            Err(_) => Err(Refusal::new(FailInfo::BadDataFormat, "not a DER TimeStampReq")),
            Ok(request) => self.grant(request),
        };
        let response = match answer {
            Ok(token) => ContentInfoDer(token).into_response(),
            Err(refusal) => refusal.into_response(),
        };
        response.unwrap_or_else(|e| {
            tracing::error!("encoding a timestamp response: {e:#}");
            Refusal::new(FailInfo::SystemFailure, "the response could not be encoded")
                .into_response()
                .expect("a rejection with a fixed text encodes")
        })
    }

    fn grant(&self, request: TimeStampReq) -> Result<Vec<u8>, Refusal> {
        let imprint = &request.message_imprint;
        let expected_len = match imprint.hash_algorithm.oid {
            ID_SHA_256 => 32,
            ID_SHA_384 => 48,
            ID_SHA_512 => 64,
            ID_SHA_1 => return Err(Refusal::new(FailInfo::BadAlg, "SHA-1 imprints are not accepted")),
            _ => return Err(Refusal::new(FailInfo::BadAlg, "the hash algorithm is not supported")),
        };
        if imprint.hashed_message.as_bytes().len() != expected_len {
            return Err(Refusal::new(FailInfo::BadDataFormat, "the imprint's length is not its hash's"));
        }
        if request.req_policy.is_some_and(|p| p != POLICY) {
            return Err(Refusal::new(FailInfo::UnacceptedPolicy, "the requested policy is not this TSA's"));
        }
        if request.extensions.is_some() {
            return Err(Refusal::new(FailInfo::UnacceptedExtension, "no extension is supported"));
        }
        self.token_for(request.message_imprint, request.nonce, request.cert_req).map_err(|e| {
            tracing::error!("issuing a timestamp token: {e:#}");
            Refusal::new(FailInfo::SystemFailure, "the token could not be made")
        })
    }
}

impl Timestamper for Tsa {
    fn timestamp(&self, sha256: &[u8; 32]) -> anyhow::Result<Vec<u8>> {
        self.token(sha256, None)
    }
}

struct ContentInfoDer(Vec<u8>);

impl ContentInfoDer {
    fn into_response(self) -> anyhow::Result<Vec<u8>> {
        let status = PkiStatusInfo { status: PkiStatus::Accepted, status_string: None, fail_info: None };
        let token = cms::content_info::ContentInfo::from_der(&self.0)?;
        Ok(TimeStampResp { status, time_stamp_token: Some(token) }.to_der()?)
    }
}

/// The PKIFailureInfo bits (RFC 3161 §2.4.2) the TSA answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailInfo {
    BadAlg = 0,
    BadDataFormat = 5,
    UnacceptedPolicy = 15,
    UnacceptedExtension = 16,
    SystemFailure = 25,
}

impl FailInfo {
    /// A named BIT STRING with only this bit set, trailing zero bits removed as DER wants.
    /// (cmpv2 0.2's own encoding of PKIFailureInfo puts the bits in the wrong places.)
    fn bits(self) -> der::Result<BitString> {
        let bit = self as usize;
        let mut bytes = vec![0u8; bit / 8 + 1];
        bytes[bit / 8] = 0x80 >> (bit % 8);
        BitString::new((7 - bit % 8) as u8, bytes)
    }
}

/// PKIStatusInfo with PKIFailureInfo as a plain BIT STRING.
#[derive(Sequence)]
struct RejectionStatus<'a> {
    status: PkiStatus,
    status_string: Option<Vec<Utf8StringRef<'a>>>,
    fail_info: Option<BitString>,
}

/// A TimeStampResp without a token.
#[derive(Sequence)]
struct Rejection<'a> {
    status: RejectionStatus<'a>,
}

/// Why a request was refused: the RFC 3161 failure and a text for people.
struct Refusal {
    failure: FailInfo,
    text: &'static str,
}

impl Refusal {
    fn new(failure: FailInfo, text: &'static str) -> Refusal {
        Refusal { failure, text }
    }

    fn into_response(self) -> anyhow::Result<Vec<u8>> {
        let status = RejectionStatus {
            status: PkiStatus::Rejection,
            status_string: Some(vec![Utf8StringRef::new(self.text)?]),
            fail_info: Some(self.failure.bits()?),
        };
        Ok(Rejection { status }.to_der()?)
    }
}

/// An external TSA reached over HTTP (`--tsa-url`): the request is posted on the tokio runtime
/// the server runs, from the calling thread, which must not be one of that runtime's.
pub struct HttpTimestamper {
    url: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

/// How long an external TSA may take to answer.
const EXTERNAL_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest answer read from an external TSA: a token with a few certificates is ~5 KB.
const EXTERNAL_MAX_RESPONSE: usize = 256 * 1024;

impl HttpTimestamper {
    pub fn new(url: &str, runtime: tokio::runtime::Handle) -> anyhow::Result<HttpTimestamper> {
        crate::crypto_provider::install();
        let client = reqwest::Client::builder().timeout(EXTERNAL_TIMEOUT).build()?;
        Ok(HttpTimestamper { url: url.to_owned(), client, runtime })
    }

    async fn post(&self, request: Vec<u8>) -> anyhow::Result<Vec<u8>> {
        let mut answer = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/timestamp-query")
            .body(request)
            .send()
            .await?
            .error_for_status()?;
        let mut body = Vec::new();
        while let Some(chunk) = answer.chunk().await? {
            if body.len() + chunk.len() > EXTERNAL_MAX_RESPONSE {
                bail!("the answer is larger than {EXTERNAL_MAX_RESPONSE} bytes");
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

impl Timestamper for HttpTimestamper {
    fn timestamp(&self, sha256: &[u8; 32]) -> anyhow::Result<Vec<u8>> {
        use rand::RngCore;
        let mut nonce = [0u8; 8];
        rand::rng().fill_bytes(&mut nonce);
        let nonce = Int::from(Uint::new(&nonce)?);
        let imprint = MessageImprint { hash_algorithm: sha256_algorithm(), hashed_message: OctetString::new(*sha256)? };
        let request = TimeStampReq {
            version: TspVersion::V1,
            message_imprint: imprint.clone(),
            req_policy: None,
            nonce: Some(nonce.clone()),
            cert_req: true,
            extensions: None,
        };
        let answer = self
            .runtime
            .block_on(self.post(request.to_der()?))
            .with_context(|| format!("the timestamp authority {}", self.url))?;
        let response = TimeStampResp::from_der(&answer)
            .with_context(|| format!("the timestamp authority {} answered no TimeStampResp", self.url))?;
        if !matches!(response.status.status, PkiStatus::Accepted | PkiStatus::GrantedWithMods) {
            bail!("the timestamp authority {} refused: {:?}", self.url, response.status);
        }
        let token = response.time_stamp_token.context("a granted answer without a token")?;
        let info = super::verify::tst_info(&token).context("the external token")?;
        if info.message_imprint != imprint || info.nonce.as_ref() != Some(&nonce) {
            bail!("the timestamp authority {} answered for another request", self.url);
        }
        Ok(token.to_der()?)
    }
}
