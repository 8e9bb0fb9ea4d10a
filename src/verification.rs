//! ChannelVerifyPdf's answer for one PDF: every signature in it checked against qianshu's root,
//! summed up in Tencent's codes (`VerifyResult`, 1 to 5, for the file and for each signature).
//! Pure and blocking: the handler runs it off the async runtime.

use crate::pdf::pades::{self, EmbeddedSignature};
use crate::pki::{Pki, SignatureReport};

/// Tencent's `VerifyResult` of a file (ChannelVerifyPdfResponse) and of one signature
/// (PdfVerifyResult): the same five codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 1: intact, signed on this platform (under qianshu's root).
    Platform = 1,
    /// 2: intact, signed elsewhere (a valid signature under another root); for the file, some
    /// signatures are qianshu's and some not, or none are.
    Elsewhere = 2,
    /// 3: the signed bytes changed, or the signature does not match its certificate.
    Tampered = 3,
    /// 4: the file holds no signature (a contract nobody has signed yet).
    Unsigned = 4,
    /// 5: a signature (or the file) cannot be read.
    Malformed = 5,
}

/// One signature as PdfVerifyResult shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureCheck {
    pub outcome: Outcome,
    /// The signer certificate's CN, else the signature's /Name.
    pub signer_name: String,
    /// Unix milliseconds: the signature's timestamp, else its /M.
    pub signed_at_ms: i64,
    /// As Java names it (`SHA256withECDSA`).
    pub algorithm: String,
    /// Lower-case hex of the certificate's serial, as Tencent writes it.
    pub cert_serial: String,
    pub cert_not_before_ms: i64,
    pub cert_not_after_ms: i64,
    /// The signature field's widget box in Tencent's coordinates (page from 1; all zero for a
    /// widget on no page).
    pub rect: crate::domain::template::Placement,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    pub outcome: Outcome,
    /// The signatures (not the document timestamps, which sign no box), in the form's order.
    pub signatures: Vec<SignatureCheck>,
}

/// Verifies every signature and document timestamp of `pdf` against `pki`'s root.
pub fn verify(pdf: &[u8], pki: &Pki) -> Verification {
    let Ok(embedded) = pades::signatures(pdf) else {
        return Verification { outcome: Outcome::Malformed, signatures: Vec::new() };
    };
    let mut timestamps = Vec::new();
    let mut signatures = Vec::new();
    for found in &embedded {
        if found.kind == "DocTimeStamp" {
            timestamps.push(outcome_of(&pki.verify_document_timestamp(&found.cms, found.signed(pdf))));
        } else {
            let report = pki.verify_detached(&found.cms, found.signed(pdf));
            signatures.push(check(found, &report));
        }
    }
    // A document timestamp only breaks a file: whose TSA made it (`--tsa-url` may name any)
    // says nothing about where the file was signed.
    let broken = timestamps.into_iter().filter(|o| matches!(o, Outcome::Tampered | Outcome::Malformed));
    let outcomes: Vec<Outcome> = signatures.iter().map(|s| s.outcome).chain(broken).collect();
    let outcome = if signatures.is_empty() {
        Outcome::Unsigned
    } else if outcomes.contains(&Outcome::Tampered) {
        Outcome::Tampered
    } else if outcomes.contains(&Outcome::Malformed) {
        Outcome::Malformed
    } else if outcomes.iter().all(|o| *o == Outcome::Platform) {
        Outcome::Platform
    } else {
        Outcome::Elsewhere
    };
    Verification { outcome, signatures }
}

/// A signature qianshu could not fully check is malformed; one whose bytes, key or timestamp do
/// not match, tampered; an intact one is qianshu's if its certificate chains to the root, whoever
/// timestamped it (`--tsa-url`).
fn outcome_of(report: &SignatureReport) -> Outcome {
    let timestamp_intact = report.timestamp.as_ref().is_none_or(|t| t.valid);
    if report.problem.is_some() {
        Outcome::Malformed
    } else if !(report.digest_matches && report.signature_valid && timestamp_intact) {
        Outcome::Tampered
    } else if report.chain_trusted {
        Outcome::Platform
    } else {
        Outcome::Elsewhere
    }
}

fn check(found: &EmbeddedSignature, report: &SignatureReport) -> SignatureCheck {
    let certificate = report.signer.as_ref();
    let signed_at =
        report.timestamp.as_ref().map(|t| t.gen_time).or_else(|| found.signed_at.as_deref().and_then(pdf_date));
    SignatureCheck {
        outcome: outcome_of(report),
        signer_name: certificate.and_then(|c| c.common_name.clone()).or_else(|| found.name.clone()).unwrap_or_default(),
        signed_at_ms: signed_at.unwrap_or(0).saturating_mul(1000),
        algorithm: report.algorithm.clone().unwrap_or_default(),
        cert_serial: certificate.map(|c| c.serial_hex.to_lowercase()).unwrap_or_default(),
        cert_not_before_ms: certificate.map_or(0, |c| c.not_before.saturating_mul(1000)),
        cert_not_after_ms: certificate.map_or(0, |c| c.not_after.saturating_mul(1000)),
        rect: found.rect.unwrap_or_default(),
    }
}

/// Unix seconds of a PDF date (ISO 32000-1, 7.9.4: `D:YYYYMMDDHHmmSSOHH'mm'`, every part after
/// the year optional, no offset meaning UTC).
fn pdf_date(text: &str) -> Option<i64> {
    let digits = text.strip_prefix("D:").unwrap_or(text);
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    let (stamp, zone) = digits.split_at(end);
    let part = |from: usize, len: usize, default: u8| -> Option<u8> {
        match stamp.get(from..from + len) {
            Some(p) => p.parse().ok(),
            None => Some(default),
        }
    };
    let year: i32 = stamp.get(0..4)?.parse().ok()?;
    let month = time::Month::try_from(part(4, 2, 1)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, part(6, 2, 1)?).ok()?;
    let clock = time::Time::from_hms(part(8, 2, 0)?, part(10, 2, 0)?, part(12, 2, 0)?).ok()?;
    let mut offset_seconds = 0i32;
    if let Some(sign @ ('+' | '-')) = zone.chars().next() {
        let numbers: Vec<i32> = zone[1..].split('\'').filter(|p| !p.is_empty()).map_while(|p| p.parse().ok()).collect();
        let (h, m) = (numbers.first().copied().unwrap_or(0), numbers.get(1).copied().unwrap_or(0));
        offset_seconds = (h * 3600 + m * 60) * if sign == '-' { -1 } else { 1 };
    }
    let offset = time::UtcOffset::from_whole_seconds(offset_seconds).ok()?;
    Some(time::PrimitiveDateTime::new(date, clock).assume_offset(offset).unix_timestamp())
}

#[cfg(test)]
mod tests;
