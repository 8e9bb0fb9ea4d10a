//! The evidence trail of a contract, in the domain's words: through which door each signature
//! came, the one-time codes sent and checked, the links issued, the revisions and, once
//! signatures are cryptographic, each one's certificate. What an evidence report is drawn from.

use super::flow::Flow;
use super::id::{FlowGroupId, FlowId, ReportId, SignId};
use super::link::SignerKey;

/// Through which door a signing or a refusal came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Door {
    /// The signing page, by its link and a one-time code.
    Page,
    /// The test helpers' `/_qianshu/sign`. Storage tests record this door too.
    #[default]
    TestHelper,
    /// An `ENTERPRISESERVER` approver signing by itself.
    AutoSign,
    /// A sign review's `SIGN_REJECT`, refusing for the signer.
    SignReview,
}

impl Door {
    const ALL: [Door; 4] = [Door::Page, Door::TestHelper, Door::AutoSign, Door::SignReview];

    pub fn as_str(self) -> &'static str {
        match self {
            Door::Page => "PAGE",
            Door::TestHelper => "TEST_HELPER",
            Door::AutoSign => "AUTO_SIGN",
            Door::SignReview => "SIGN_REVIEW",
        }
    }

    pub fn parse(s: &str) -> Option<Door> {
        Door::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// How the report names it.
    pub fn chinese(self) -> &'static str {
        match self {
            Door::Page => "签署页面（链接 + 短信验证码）",
            Door::TestHelper => "测试接口 /_qianshu/sign",
            Door::AutoSign => "企业自动签署",
            Door::SignReview => "签署审核拒签（SIGN_REJECT）",
        }
    }
}

/// A one-time code sent, or the result of one attempt to verify a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeEvent {
    Sent,
    Valid,
    Wrong,
    /// The attempt found the link locked, or was the one that locked it.
    Locked,
    /// There was no code to check: none sent, run out, or used.
    Missing,
}

impl CodeEvent {
    const ALL: [CodeEvent; 5] =
        [CodeEvent::Sent, CodeEvent::Valid, CodeEvent::Wrong, CodeEvent::Locked, CodeEvent::Missing];

    pub fn as_str(self) -> &'static str {
        match self {
            CodeEvent::Sent => "SENT",
            CodeEvent::Valid => "VALID",
            CodeEvent::Wrong => "WRONG",
            CodeEvent::Locked => "LOCKED",
            CodeEvent::Missing => "MISSING",
        }
    }

    pub fn parse(s: &str) -> Option<CodeEvent> {
        CodeEvent::ALL.into_iter().find(|e| e.as_str() == s)
    }

    pub fn chinese(self) -> &'static str {
        match self {
            CodeEvent::Sent => "发送验证码",
            CodeEvent::Valid => "验证码正确",
            CodeEvent::Wrong => "验证码错误",
            CodeEvent::Locked => "链接已锁定",
            CodeEvent::Missing => "无有效验证码",
        }
    }
}

/// A mobile as evidence shows it: `138****5678`, the first three and last four digits.
pub fn mask_mobile(mobile: &str) -> String {
    let chars: Vec<char> = mobile.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let (head, tail) = (&chars[..3], &chars[chars.len() - 4..]);
    format!("{}****{}", head.iter().collect::<String>(), tail.iter().collect::<String>())
}

/// A signature's certificate and timestamp, recorded with the revision the signing wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCertificate {
    pub serial: String,
    pub subject: String,
    /// Validity, Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// The time its RFC 3161 timestamp states, Unix seconds.
    pub timestamp_at: Option<i64>,
}

/// Who made the contract.
#[derive(Debug, Clone)]
pub struct Creator {
    pub app_id: String,
    pub organization_open_id: String,
    pub organization_name: Option<String>,
    pub operator_open_id: String,
    pub operator_name: Option<String>,
}

/// A sign link issued for the contract (or for its group).
#[derive(Debug, Clone)]
pub struct LinkIssued {
    pub token_sha256: String,
    pub signer: SignerKey,
    /// The action that issued it; `None` for links issued before this was recorded.
    pub issued_by: Option<String>,
    pub group: Option<FlowGroupId>,
    pub preview: bool,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A code sent or checked on one of the contract's links.
#[derive(Debug, Clone)]
pub struct CodeRecord {
    pub token_sha256: String,
    pub event: CodeEvent,
    /// Masked.
    pub mobile: Option<String>,
    pub at: i64,
}

/// Where an approver's signature or refusal came from.
#[derive(Debug, Clone)]
pub struct ActRecord {
    pub sign_id: SignId,
    pub door: Option<Door>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A revision of the contract: 0 is the document as made.
#[derive(Debug, Clone)]
pub struct RevisionRecord {
    pub number: i64,
    pub sha256: String,
    /// The approver whose signing wrote it (none for revision 0).
    pub sign_id: Option<SignId>,
    pub at: i64,
    pub certificate: Option<SignatureCertificate>,
}

/// Everything a report on one contract is drawn from.
#[derive(Debug, Clone)]
pub struct Trail {
    pub flow: Flow,
    pub creator: Creator,
    pub links: Vec<LinkIssued>,
    pub codes: Vec<CodeRecord>,
    pub acts: Vec<ActRecord>,
    pub revisions: Vec<RevisionRecord>,
}

/// A report made: its id, the contract and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub report_id: ReportId,
    pub flow_id: FlowId,
    pub sha256: String,
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mobile_is_masked_but_for_its_first_three_and_last_four_digits() {
        assert_eq!(mask_mobile("13812345678"), "138****5678");
        assert_eq!(mask_mobile("12345"), "*****");
    }

    #[test]
    fn doors_and_code_events_read_back_as_written() {
        for door in Door::ALL {
            assert_eq!(Door::parse(door.as_str()), Some(door));
        }
        for event in CodeEvent::ALL {
            assert_eq!(CodeEvent::parse(event.as_str()), Some(event));
        }
        assert_eq!(Door::parse("DOOR"), None);
    }
}
