use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::cms::content_info::ContentInfo;
use ::cms::signed_data::SignedData;
use const_oid::db::rfc5280::{
    ID_CE_AUTHORITY_KEY_IDENTIFIER, ID_CE_BASIC_CONSTRAINTS, ID_CE_CRL_DISTRIBUTION_POINTS, ID_CE_EXT_KEY_USAGE,
    ID_CE_KEY_USAGE, ID_CE_SUBJECT_KEY_IDENTIFIER, ID_KP_TIME_STAMPING,
};
use const_oid::db::rfc5911::{ID_AA_SIGNING_CERTIFICATE_V_2, ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNING_TIME};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_tsp::TstInfo;

use super::cms::ID_AA_SIGNATURE_TIME_STAMP_TOKEN;
use super::*;
use crate::config::DatabaseUrl;
use crate::secrets::MasterKey;

const URL: &str = "http://qianshu.test";
const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

async fn pki_on(dir: &tempfile::TempDir) -> Pki {
    let url = DatabaseUrl::new(format!("sqlite://{}", dir.path().join("q.db").display()));
    let store = Store::connect(&url, MasterKey::from_hex(KEY, "a test").unwrap()).await.unwrap();
    Pki::load(&store, &PkiSettings::default(), URL).await.unwrap()
}

fn extension(certificate: &Certificate, oid: const_oid::ObjectIdentifier) -> &x509_cert::ext::Extension {
    let extensions = certificate.tbs_certificate.extensions.as_ref().unwrap();
    extensions.iter().find(|e| e.extn_id == oid).unwrap_or_else(|| panic!("no extension {oid}"))
}

fn has_extension(certificate: &Certificate, oid: const_oid::ObjectIdentifier) -> bool {
    certificate.tbs_certificate.extensions.iter().flatten().any(|e| e.extn_id == oid)
}

fn key_usage(certificate: &Certificate) -> (bool, KeyUsage) {
    let e = extension(certificate, ID_CE_KEY_USAGE);
    (e.critical, KeyUsage::from_der(e.extn_value.as_bytes()).unwrap())
}

/// The serial's INTEGER content octets as encoded: minimal means no leading 0x00 unless the next
/// octet's top bit is set, and no leading 0xFF.
fn assert_minimal_positive_serial(certificate: &Certificate) {
    let der = certificate.tbs_certificate.serial_number.to_der().unwrap();
    assert_eq!(der[0], 0x02);
    let content = &der[2..];
    assert_eq!(content.len(), der[1] as usize);
    assert!(content[0] & 0x80 == 0, "positive: {content:02x?}");
    assert!(content[0] != 0 || content.get(1).is_some_and(|b| b & 0x80 != 0), "minimal: {content:02x?}");
    assert!(content.len() * 8 >= 64 && content.len() <= 20, "{content:02x?}");
}

fn seconds(time: &x509_cert::time::Time) -> u64 {
    time.to_unix_duration().as_secs()
}

#[tokio::test]
async fn an_event_certificate_names_the_signer_and_is_issued_by_the_root_for_a_day() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let credential =
        pki.event_credential(Subject { name: "张三", organization: Some("腾讯科技（深圳）有限公司") }).unwrap();
    let c = credential.certificate();
    let tbs = &c.tbs_certificate;
    assert_eq!(cert::common_name(&tbs.subject).as_deref(), Some("张三"));
    assert_eq!(cert::organization(&tbs.subject).as_deref(), Some("腾讯科技（深圳）有限公司"));
    assert_eq!(tbs.issuer, pki.root_certificate().tbs_certificate.subject);
    assert!(cert::issued_by(c, pki.root_certificate()));
    assert_minimal_positive_serial(c);
    let (critical, usage) = key_usage(c);
    assert!(critical);
    assert_eq!(usage.0, KeyUsages::DigitalSignature | KeyUsages::NonRepudiation);
    assert!(!has_extension(c, ID_CE_EXT_KEY_USAGE) && !has_extension(c, ID_CE_BASIC_CONSTRAINTS));
    let aki =
        AuthorityKeyIdentifier::from_der(extension(c, ID_CE_AUTHORITY_KEY_IDENTIFIER).extn_value.as_bytes()).unwrap();
    let root_ski = extension(pki.root_certificate(), ID_CE_SUBJECT_KEY_IDENTIFIER);
    assert_eq!(aki.key_identifier.unwrap().to_der().unwrap(), root_ski.extn_value.as_bytes());
    let ski = extension(c, ID_CE_SUBJECT_KEY_IDENTIFIER).extn_value.as_bytes();
    assert_eq!(ski, cert::key_identifier(&cert::public_key(c).unwrap()).to_der().unwrap());
    let points =
        CrlDistributionPoints::from_der(extension(c, ID_CE_CRL_DISTRIBUTION_POINTS).extn_value.as_bytes()).unwrap();
    assert_eq!(format!("{:?}", points.0[0].distribution_point).matches("http://qianshu.test/pki/crl").count(), 1);
    let (not_before, not_after) = (seconds(&tbs.validity.not_before), seconds(&tbs.validity.not_after));
    assert_eq!(not_after - not_before, (EVENT_VALIDITY + CLOCK_SKEW).as_secs());
    assert!(not_before <= before - CLOCK_SKEW.as_secs() + 2 && not_before + 2 >= before - CLOCK_SKEW.as_secs());

    let seal = pki.event_credential(Subject { name: "合同专用章", organization: None }).unwrap();
    assert_eq!(cert::organization(&seal.certificate().tbs_certificate.subject), None);
    assert_ne!(seal.serial_hex(), credential.serial_hex());
}

#[tokio::test]
async fn the_tsa_certificate_is_for_timestamping_only_with_its_usage_critical_and_the_root_is_a_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    let tsa = pki.tsa().credential().certificate();
    let eku = extension(tsa, ID_CE_EXT_KEY_USAGE);
    assert!(eku.critical);
    assert_eq!(ExtendedKeyUsage::from_der(eku.extn_value.as_bytes()).unwrap().0, [ID_KP_TIME_STAMPING]);
    assert_eq!(key_usage(tsa), (true, KeyUsage(KeyUsages::DigitalSignature.into())));
    assert!(cert::issued_by(tsa, pki.root_certificate()));
    assert_minimal_positive_serial(tsa);

    let root = pki.root_certificate();
    let basic = extension(root, ID_CE_BASIC_CONSTRAINTS);
    assert!(basic.critical);
    assert!(x509_cert::ext::pkix::BasicConstraints::from_der(basic.extn_value.as_bytes()).unwrap().ca);
    assert_eq!(key_usage(root), (true, KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign)));
    assert!(cert::issued_by(root, root));
    assert_minimal_positive_serial(root);
    assert!(pki.root_pem().starts_with("-----BEGIN CERTIFICATE-----\n"));
}

#[tokio::test]
async fn an_organizations_certificate_is_made_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    let first = pki.organization_credential("app", "org", "测试有限公司").await.unwrap();
    let tbs = &first.certificate().tbs_certificate;
    assert_eq!(cert::common_name(&tbs.subject).as_deref(), Some("测试有限公司"));
    assert_eq!(cert::organization(&tbs.subject).as_deref(), Some("测试有限公司"));
    assert_eq!(key_usage(first.certificate()).1.0, KeyUsages::DigitalSignature | KeyUsages::NonRepudiation);
    assert_eq!(
        pki.organization_credential("app", "org", "测试有限公司").await.unwrap().serial_hex(),
        first.serial_hex()
    );
    // Another node (a fresh load, no cache) reads the same one.
    let again = pki_on(&dir).await.organization_credential("app", "org", "测试有限公司").await.unwrap();
    assert_eq!(again.certificate(), first.certificate());
    let renamed = pki.organization_credential("app", "org", "新名称有限公司").await.unwrap();
    assert_ne!(renamed.serial_hex(), first.serial_hex());
}

fn signed_data_of(der: &[u8]) -> SignedData {
    ContentInfo::from_der(der).unwrap().content.decode_as::<SignedData>().unwrap()
}

const PDF_HEAD: &[u8] = b"%PDF-1.7 head of the file";
const PDF_TAIL: &[u8] = b"tail of the file %%EOF";

#[tokio::test]
async fn a_detached_signature_carries_the_cades_attributes_and_no_signing_time() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    let credential = pki.event_credential(Subject { name: "李四", organization: None }).unwrap();
    let der = sign_detached(&credential, [PDF_HEAD, PDF_TAIL], Some(pki.timestamper())).unwrap();
    let sd = signed_data_of(&der);
    assert_eq!(sd.encap_content_info.econtent_type, const_oid::db::rfc5911::ID_DATA);
    assert!(sd.encap_content_info.econtent.is_none(), "detached");
    assert_eq!(sd.certificates.as_ref().unwrap().0.len(), 2);
    let signer = sd.signer_infos.0.get(0).unwrap();
    assert_eq!(signer.signature_algorithm.oid, const_oid::db::rfc5912::ECDSA_WITH_SHA_256);
    let mut oids: Vec<_> = signer.signed_attrs.as_ref().unwrap().iter().map(|a| a.oid).collect();
    oids.sort();
    let mut expected = vec![ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_AA_SIGNING_CERTIFICATE_V_2];
    expected.sort();
    assert_eq!(oids, expected);
    assert!(!oids.contains(&ID_SIGNING_TIME));
    let digest = signer.signed_attrs.as_ref().unwrap().iter().find(|a| a.oid == ID_MESSAGE_DIGEST).unwrap();
    let mut whole = PDF_HEAD.to_vec();
    whole.extend_from_slice(PDF_TAIL);
    assert_eq!(
        digest.values.get(0).unwrap().decode_as::<der::asn1::OctetString>().unwrap().as_bytes(),
        Sha256::digest(&whole).as_slice()
    );
    let unsigned: Vec<_> = signer.unsigned_attrs.as_ref().unwrap().iter().map(|a| a.oid).collect();
    assert_eq!(unsigned, [ID_AA_SIGNATURE_TIME_STAMP_TOKEN]);

    let plain = sign_detached(&credential, [PDF_HEAD, PDF_TAIL], None).unwrap();
    assert!(signed_data_of(&plain).signer_infos.0.get(0).unwrap().unsigned_attrs.is_none());
}

#[tokio::test]
async fn verification_reports_a_good_signature_with_its_certificate_and_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    let credential = pki.event_credential(Subject { name: "王五", organization: Some("某某公司") }).unwrap();
    let der = sign_detached(&credential, [PDF_HEAD, PDF_TAIL], Some(pki.timestamper())).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let report = pki.verify_detached(&der, [PDF_HEAD, PDF_TAIL]);
    assert!(report.is_valid(), "{report:?}");
    let signer = report.signer.unwrap();
    assert_eq!((signer.common_name.as_deref(), signer.organization.as_deref()), (Some("王五"), Some("某某公司")));
    assert_eq!(signer.serial_hex, credential.serial_hex());
    assert_eq!(signer.not_after - signer.not_before, (EVENT_VALIDITY + CLOCK_SKEW).as_secs() as i64);
    assert_eq!(report.algorithm.as_deref(), Some("SHA256withECDSA"));
    let timestamp = report.timestamp.unwrap();
    assert!(timestamp.valid && timestamp.trusted);
    assert!((timestamp.gen_time - now).abs() <= 2, "{} vs {now}", timestamp.gen_time);

    let plain = sign_detached(&credential, [PDF_HEAD, PDF_TAIL], None).unwrap();
    let report = pki.verify_detached(&plain, [PDF_HEAD, PDF_TAIL]);
    assert!(report.is_valid() && report.timestamp.is_none(), "{report:?}");
}

#[tokio::test]
async fn one_flipped_byte_anywhere_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    let credential = pki.event_credential(Subject { name: "赵六", organization: None }).unwrap();
    let der = sign_detached(&credential, [PDF_HEAD, PDF_TAIL], Some(pki.timestamper())).unwrap();
    for (range, at) in [(0, 0), (0, PDF_HEAD.len() - 1), (1, 3)] {
        let mut parts = [PDF_HEAD.to_vec(), PDF_TAIL.to_vec()];
        parts[range][at] ^= 1;
        let report = pki.verify_detached(&der, [&parts[0], &parts[1]]);
        assert!(!report.digest_matches && report.signature_valid && !report.is_valid(), "{report:?}");
    }
    // Moving bytes from one range to the other changes nothing that is signed.
    let report = pki.verify_detached(&der, [&PDF_HEAD[..3], &[&PDF_HEAD[3..], PDF_TAIL].concat()]);
    assert!(report.is_valid());

    // A flipped byte in the signature value (the last bytes before the timestamp are not it, so
    // find it) breaks the signature and the timestamp over it.
    let sd = signed_data_of(&der);
    let signature = sd.signer_infos.0.get(0).unwrap().signature.as_bytes().to_vec();
    let at = der.windows(signature.len()).position(|w| w == signature).unwrap() + signature.len() - 1;
    let mut tampered = der.clone();
    tampered[at] ^= 1;
    let report = pki.verify_detached(&tampered, [PDF_HEAD, PDF_TAIL]);
    assert!(report.digest_matches && !report.signature_valid && !report.is_valid(), "{report:?}");
    assert!(!report.timestamp.unwrap().valid);
}

#[tokio::test]
async fn a_signature_under_another_root_is_intact_but_untrusted() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ours, theirs) = (pki_on(&a).await, pki_on(&b).await);
    let credential = theirs.event_credential(Subject { name: "外人", organization: None }).unwrap();
    let der = sign_detached(&credential, [PDF_HEAD, PDF_TAIL], Some(theirs.timestamper())).unwrap();
    let report = ours.verify_detached(&der, [PDF_HEAD, PDF_TAIL]);
    assert!(report.digest_matches && report.signature_valid && !report.chain_trusted, "{report:?}");
    let timestamp = report.timestamp.as_ref().unwrap();
    assert!(timestamp.valid && !timestamp.trusted);
    assert!(!report.is_valid());
    assert!(theirs.verify_detached(&der, [PDF_HEAD, PDF_TAIL]).is_valid());
}

#[tokio::test]
async fn unreadable_signatures_are_reports_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    let credential = pki.event_credential(Subject { name: "x", organization: None }).unwrap();
    let der = sign_detached(&credential, [PDF_HEAD, PDF_TAIL], None).unwrap();
    for bad in [&b""[..], b"\x30\x03\x02\x01", &der[..der.len() / 2], b"%PDF not a signature"] {
        let report = pki.verify_detached(bad, [PDF_HEAD, PDF_TAIL]);
        assert!(report.problem.is_some() && !report.is_valid(), "{report:?}");
        let report = pki.verify_document_timestamp(bad, [PDF_HEAD, PDF_TAIL]);
        assert!(report.problem.is_some() && !report.is_valid(), "{report:?}");
    }
    // A signature is not a document timestamp.
    let report = pki.verify_document_timestamp(&der, [PDF_HEAD, PDF_TAIL]);
    assert!(report.problem.unwrap().contains("TSTInfo"));
}

#[tokio::test]
async fn a_document_timestamp_verifies_over_the_ranges_it_stamps() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    let whole = [PDF_HEAD, PDF_TAIL].concat();
    let token = pki.tsa().token(&Sha256::digest(&whole).into(), None).unwrap();
    let report = pki.verify_document_timestamp(&token, [PDF_HEAD, PDF_TAIL]);
    assert!(report.is_valid(), "{report:?}");
    assert_eq!(report.signer.unwrap().common_name.as_deref(), Some("qianshu Timestamp Authority"));
    let mut flipped = whole.clone();
    flipped[5] ^= 1;
    let report = pki.verify_document_timestamp(&token, [&flipped, b""]);
    assert!(!report.digest_matches && report.signature_valid && !report.is_valid(), "{report:?}");
}

fn tst_info_in(token: &[u8]) -> TstInfo {
    tsa_tst_info(&ContentInfo::from_der(token).unwrap())
}

fn tsa_tst_info(token: &ContentInfo) -> TstInfo {
    verify::tst_info(token).unwrap()
}

#[tokio::test]
async fn a_token_has_a_minimal_serial_the_policy_an_accuracy_of_a_second_and_the_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    let nonce = der::asn1::Int::new(&[0x01, 0x02, 0x03]).unwrap();
    let token = pki.tsa().token(&[7; 32], Some(nonce.clone())).unwrap();
    let info = tst_info_in(&token);
    assert_eq!(info.policy, tsa::POLICY);
    assert_eq!(info.nonce, Some(nonce));
    assert_eq!(info.accuracy.unwrap().seconds, Some(1));
    assert_eq!(info.message_imprint.hashed_message.as_bytes(), [7; 32]);
    let serial = info.serial_number.to_der().unwrap();
    assert!(serial[2] & 0x80 == 0 && (serial[2] != 0 || serial[3] & 0x80 != 0), "{serial:02x?}");
    let other = tst_info_in(&pki.tsa().token(&[7; 32], None).unwrap());
    assert_ne!(other.serial_number, info.serial_number);
    let sd = signed_data_of(&token);
    assert_eq!(sd.version, ::cms::content_info::CmsVersion::V3);
    let signer = sd.signer_infos.0.get(0).unwrap();
    let oids: Vec<_> = signer.signed_attrs.as_ref().unwrap().iter().map(|a| a.oid).collect();
    assert!(oids.contains(&ID_AA_SIGNING_CERTIFICATE_V_2) && oids.contains(&ID_MESSAGE_DIGEST));
    assert!(!oids.contains(&ID_SIGNING_TIME));
}

#[tokio::test]
async fn the_tsa_answers_garbage_with_a_rejection_for_bad_data_format() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    let answer = pki.tsa().respond(b"garbage");
    // SEQUENCE { SEQUENCE { status 2, statusString, failInfo BIT STRING with bit 5 } }
    assert!(answer.ends_with(&[0x03, 0x02, 0x02, 0x04]), "{answer:02x?}");
    let response = x509_tsp::TimeStampResp::from_der(&answer).unwrap();
    assert_eq!(response.status.status, cmpv2::status::PkiStatus::Rejection);
    assert!(response.time_stamp_token.is_none());
}

#[tokio::test]
async fn the_crl_is_signed_by_the_root_and_served_again_within_the_hour() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    let crl = pki.crl().unwrap();
    let list = x509_cert::crl::CertificateList::from_der(&crl).unwrap();
    assert!(list.tbs_cert_list.revoked_certificates.is_none());
    assert_eq!(list.tbs_cert_list.issuer, pki.root_certificate().tbs_certificate.subject);
    let (this, next) = (seconds(&list.tbs_cert_list.this_update), seconds(&list.tbs_cert_list.next_update.unwrap()));
    assert_eq!(Duration::from_secs(next - this), CRL_NEXT_UPDATE);
    let key = cert::public_key(pki.root_certificate()).unwrap();
    let signature = p256::ecdsa::Signature::from_der(list.signature.as_bytes().unwrap()).unwrap();
    use p256::ecdsa::signature::Verifier;
    assert!(key.verify(&list.tbs_cert_list.to_der().unwrap(), &signature).is_ok());
    assert_eq!(pki.crl().unwrap(), crl);
}

#[tokio::test]
async fn keys_never_print() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    let credential = pki.event_credential(Subject { name: "张三", organization: None }).unwrap();
    let printed = format!("{credential:?} {pki:?}");
    assert!(printed.contains("key ***") && printed.contains("CN=张三"), "{printed}");
    let secret = hex::encode(credential.key.to_bytes());
    assert!(!printed.contains(&secret) && !printed.to_lowercase().contains(&secret[..16]));
}

/// `cargo test --release --lib pki::tests::bench -- --ignored --nocapture`: what one signing
/// event costs in crypto (figures in docs/ARCHITECTURE.md, "Choices and why").
#[tokio::test]
#[ignore = "a measurement, not a test: run it in release"]
async fn bench_event_certificate_cms_and_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    let document = vec![0x25u8; 300 * 1024];
    let (head, tail) = document.split_at(document.len() / 2);
    let measure = |name: &str, f: &dyn Fn()| {
        let mut times: Vec<Duration> = (0..300)
            .map(|_| {
                let start = std::time::Instant::now();
                f();
                start.elapsed()
            })
            .collect();
        times.sort();
        println!("{name}: p50 {:?}, p90 {:?}", times[times.len() / 2], times[times.len() * 9 / 10]);
    };
    let subject = Subject { name: "张三", organization: Some("某某公司") };
    measure("event certificate", &|| drop(pki.event_credential(subject).unwrap()));
    let credential = pki.event_credential(subject).unwrap();
    measure("CMS over 300 KiB, no timestamp", &|| drop(sign_detached(&credential, [head, tail], None).unwrap()));
    measure("timestamp token", &|| drop(pki.tsa().token(&[1; 32], None).unwrap()));
    measure("event certificate + CMS B-T over 300 KiB", &|| {
        let credential = pki.event_credential(subject).unwrap();
        drop(sign_detached(&credential, [head, tail], Some(pki.timestamper())).unwrap());
    });
    let der = sign_detached(&credential, [head, tail], Some(pki.timestamper())).unwrap();
    println!("CMS B-T size: {} bytes", der.len());
    measure("verify B-T over 300 KiB", &|| assert!(pki.verify_detached(&der, [head, tail]).is_valid()));
}

/// A TSA on a loopback port: `/tsa` answers as the built-in one, `/other` with a token for
/// another request.
async fn external_tsa(pki: Arc<Pki>) -> String {
    use axum::routing::post;
    let honest = pki.clone();
    let router = axum::Router::new()
        .route("/tsa", post(move |body: axum::body::Bytes| async move { honest.tsa().respond(&body) }))
        .route(
            "/other",
            post(move |_: axum::body::Bytes| async move {
                let request = x509_tsp::TimeStampReq {
                    version: x509_tsp::TspVersion::V1,
                    message_imprint: x509_tsp::MessageImprint {
                        hash_algorithm: super::cms::sha256_algorithm(),
                        hashed_message: der::asn1::OctetString::new([9u8; 32]).unwrap(),
                    },
                    req_policy: None,
                    nonce: None,
                    cert_req: true,
                    extensions: None,
                };
                pki.tsa().respond(&request.to_der().unwrap())
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_tsa_is_called_from_a_thread_off_the_runtime_and_must_answer_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Arc::new(pki_on(&dir).await);
    let base = external_tsa(pki.clone()).await;
    let runtime = tokio::runtime::Handle::current();
    let external = HttpTimestamper::new(&format!("{base}/tsa"), runtime.clone()).unwrap();
    let credential = pki.event_credential(Subject { name: "张三", organization: None }).unwrap();
    let der = tokio::task::spawn_blocking(move || sign_detached(&credential, [PDF_HEAD, PDF_TAIL], Some(&external)))
        .await
        .unwrap()
        .unwrap();
    let report = pki.verify_detached(&der, [PDF_HEAD, PDF_TAIL]);
    assert!(report.is_valid() && report.timestamp.is_some(), "{report:?}");

    let liar = HttpTimestamper::new(&format!("{base}/other"), runtime).unwrap();
    let e = tokio::task::spawn_blocking(move || liar.timestamp(&[1; 32])).await.unwrap().unwrap_err();
    assert_eq!(e.to_string(), format!("the timestamp authority {base}/other answered for another request"));
}
