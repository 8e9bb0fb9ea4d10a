use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use super::*;
use crate::config::DatabaseUrl;
use crate::domain::template::{Component, ComponentType, Placement};
use crate::pdf::compose::{PreparedTemplate, compose};
use crate::pdf::font::Fonts;
use crate::pdf::image::image_xobject;
use crate::pdf::pades::{Cms, Signer, form_fields, sign};
use crate::pdf::sign::tests::{
    EMPLOYEE, EMPLOYER, TEMPLATE, canvas_png, components, date, fields, fonts_and_tools, of,
};
use crate::pki::{Credential, Subject};
use crate::secrets::MasterKey;
use crate::store::Store;
use crate::synthesis::{SignatureAppearance, fill_marks, signing_marks};

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

async fn pki_on(dir: &tempfile::TempDir) -> Pki {
    let url = DatabaseUrl::new(format!("sqlite://{}", dir.path().join("q.db").display()));
    let store = Store::connect(&url, MasterKey::from_hex(KEY, "a test").unwrap()).await.unwrap();
    Pki::load(&store, &Default::default(), "http://qianshu.test").await.unwrap()
}

/// An event certificate's signature, timestamped by the PKI's TSA.
struct EventCms<'a> {
    credential: Credential,
    pki: &'a Pki,
}

impl Cms for EventCms<'_> {
    fn sign(&self, signed: [&[u8]; 2]) -> anyhow::Result<Vec<u8>> {
        crate::pki::sign_detached(&self.credential, signed, Some(self.pki.timestamper()))
    }

    fn max_len(&self) -> usize {
        16 * 1024
    }
}

fn unsigned_contract(fonts: &Fonts) -> Vec<u8> {
    let all = components();
    let initiator = fields(&[("CompanyName", "典子谦示例企业"), ("EmployeeName", "张三")]);
    let marks = fill_marks(&of(&all, None), &initiator, &HashMap::new(), fonts).unwrap();
    let template = PreparedTemplate::new(Bytes::from(std::fs::read(TEMPLATE).unwrap())).unwrap();
    compose(&template, &marks, &form_fields([EMPLOYER, EMPLOYEE], &all), fonts).unwrap()
}

/// `recipient` signs `latest` with a certificate for `name` from `pki`.
fn signed_by(latest: &[u8], recipient: &str, name: &str, pki: &Pki, fonts: &Fonts) -> (Vec<u8>, String) {
    let mine = of(&components(), Some(recipient));
    let appearance = if recipient == EMPLOYER {
        SignatureAppearance::GeneratedSeal(name.into())
    } else {
        SignatureAppearance::Drawn(Arc::new(image_xobject(&canvas_png(480, 240)).unwrap()))
    };
    let marks = signing_marks(
        &mine,
        &fields(&[("EmployerOpinion", "同意录用"), ("EmergencyContact", "李四 13800000000")])
            .into_iter()
            .filter(|(id, _)| mine.iter().any(|c| &c.component_id == id))
            .collect::<Vec<_>>(),
        &HashMap::new(),
        &[appearance],
        date(),
        fonts,
    )
    .unwrap();
    let credential = pki.event_credential(Subject { name, organization: None }).unwrap();
    let serial = credential.serial_hex().to_lowercase();
    let signer =
        Signer { recipient_id: recipient, components: &mine, name, signed_at: time::OffsetDateTime::now_utc() };
    (sign(latest, &signer, &marks, fonts, &EventCms { credential, pki }).unwrap(), serial)
}

/// The box a signer's signature field has: their first signature or seal component.
fn signature_box(recipient: &str) -> Placement {
    let all = components();
    let first = all.iter().find(|c| {
        c.recipient_id.as_deref() == Some(recipient)
            && matches!(c.component_type, ComponentType::SignSignature | ComponentType::SignSeal)
    });
    first.map(|c: &Component| c.placement).expect("the example signers have a signature or seal box")
}

fn assert_box(check: &SignatureCheck, expected: Placement) {
    let got = [check.rect.x, check.rect.y, check.rect.width, check.rect.height];
    let want = [expected.x, expected.y, expected.width, expected.height];
    assert_eq!(check.rect.page, expected.page);
    // The widget's /Rect is written as 32-bit reals.
    assert!(got.iter().zip(want).all(|(g, w)| (g - w).abs() < 0.01), "{got:?} != {want:?}");
}

#[tokio::test]
async fn a_contract_nobody_signed_is_unsigned_with_no_entries() {
    let Some(fonts) = fonts_and_tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    let verification = verify(&unsigned_contract(&fonts), &pki);
    assert_eq!(verification, Verification { outcome: Outcome::Unsigned, signatures: Vec::new() });
}

#[tokio::test]
async fn two_signatures_under_the_root_are_the_platforms_with_their_certificates_and_boxes() {
    let Some(fonts) = fonts_and_tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    let before = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let (first, employer_serial) = signed_by(&unsigned_contract(&fonts), EMPLOYER, "典子谦示例企业", &pki, &fonts);
    let (both, employee_serial) = signed_by(&first, EMPLOYEE, "张三", &pki, &fonts);
    let after = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;

    let verification = verify(&both, &pki);
    assert_eq!(verification.outcome, Outcome::Platform);
    let [employer, employee] = &verification.signatures[..] else { panic!("{verification:?}") };
    for (check, name, serial, recipient) in
        [(employer, "典子谦示例企业", &employer_serial, EMPLOYER), (employee, "张三", &employee_serial, EMPLOYEE)]
    {
        assert_eq!(check.outcome, Outcome::Platform);
        assert_eq!(check.signer_name, name);
        assert_eq!(&check.cert_serial, serial);
        assert_eq!(check.algorithm, "SHA256withECDSA");
        assert!((before..=after).contains(&check.signed_at_ms), "{check:?}");
        assert!(check.cert_not_before_ms < check.signed_at_ms && check.signed_at_ms < check.cert_not_after_ms);
        assert_eq!(check.cert_not_after_ms - check.cert_not_before_ms, (24 * 3600 + 600) * 1000);
        assert_box(check, signature_box(recipient));
    }
    // The first revision, as it stood, has the employer's signature only.
    assert_eq!(verify(&first, &pki).signatures.len(), 1);
}

#[tokio::test]
async fn one_flipped_byte_in_a_signed_range_is_tampering() {
    let Some(fonts) = fonts_and_tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    let (mut signed, _) = signed_by(&unsigned_contract(&fonts), EMPLOYER, "典子谦示例企业", &pki, &fonts);
    // A byte of the page content, well before the signature's update.
    let at = signed.windows(6).position(|w| w == b"stream").unwrap() + 20;
    signed[at] ^= 0x01;
    let verification = verify(&signed, &pki);
    assert_eq!(verification.outcome, Outcome::Tampered);
    assert_eq!(verification.signatures.len(), 1);
    assert_eq!(verification.signatures[0].outcome, Outcome::Tampered);
    assert_eq!(verification.signatures[0].signer_name, "典子谦示例企业");
}

#[tokio::test]
async fn a_signature_under_another_root_is_intact_but_from_elsewhere() {
    let Some(fonts) = fonts_and_tools() else { return };
    let (ours, theirs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (pki, foreign) = (pki_on(&ours).await, pki_on(&theirs).await);
    let (first, _) = signed_by(&unsigned_contract(&fonts), EMPLOYER, "典子谦示例企业", &pki, &fonts);
    let (both, _) = signed_by(&first, EMPLOYEE, "张三", &foreign, &fonts);
    let verification = verify(&both, &pki);
    assert_eq!(verification.outcome, Outcome::Elsewhere);
    let outcomes: Vec<Outcome> = verification.signatures.iter().map(|s| s.outcome).collect();
    assert_eq!(outcomes, [Outcome::Platform, Outcome::Elsewhere]);
    assert_eq!(verify(&both, &foreign).outcome, Outcome::Elsewhere);
}

#[tokio::test]
async fn bytes_that_are_no_pdf_are_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    assert_eq!(verify(b"%PDF-1.7\nnot really", &pki).outcome, Outcome::Malformed);
}

#[tokio::test]
async fn a_sealed_report_is_qianshus_certified_against_any_change() {
    let Some(fonts) = fonts_and_tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_on(&dir).await;
    let blocks = vec![crate::pdf::report::Block::Title("电子签署出证报告".to_owned())];
    let report = crate::pdf::report::render(&blocks, "出证报告", &fonts).unwrap();
    let at = time::macros::datetime!(2026-12-02 14:30:00 +08:00);
    let sealed = crate::evidence::seal(&report, &pki, at, &fonts).unwrap();
    assert!(sealed.starts_with(&report));

    let found = crate::pdf::pades::signatures(&sealed).unwrap();
    let [seal] = &found[..] else { panic!("{found:?}") };
    assert_eq!((seal.doc_mdp, seal.covers_revision), (Some(1), true));
    assert_eq!(seal.sub_filter, "ETSI.CAdES.detached");
    let report = pki.verify_detached(&seal.cms, seal.signed(&sealed));
    assert!(report.is_valid(), "{report:?}");
    assert!(report.timestamp.is_some_and(|t| t.valid && t.trusted));
    let signer = report.signer.unwrap();
    assert_eq!(signer.serial_hex, pki.platform_credential().serial_hex());
    assert_eq!((signer.common_name.as_deref(), signer.organization.as_deref()), (Some("qianshu"), Some("qianshu")));

    let verification = verify(&sealed, &pki);
    assert_eq!(verification.outcome, Outcome::Platform);
    assert_eq!(verification.signatures[0].signer_name, "qianshu");
    assert_eq!(verification.signatures[0].rect.width, 0.0, "an invisible field");
}

#[test]
fn pdf_dates_read_with_and_without_their_offset() {
    assert_eq!(pdf_date("D:20261202143000+08'00'"), Some(1_796_193_000));
    assert_eq!(pdf_date("D:20261202063000Z"), Some(1_796_193_000));
    assert_eq!(pdf_date("D:20261202063000"), Some(1_796_193_000));
    assert_eq!(pdf_date("D:20261201223000-08'00"), Some(1_796_193_000));
    assert_eq!(pdf_date("D:2026"), Some(1_767_225_600));
    assert_eq!(pdf_date("D:20261302"), None);
    assert_eq!(pdf_date("yesterday"), None);
}
