//! A contract's life after creation and what it costs: cancelling (the reason, what may be
//! cancelled), the seed's refund rule, and the periods bills and usage are read for. Pure: the
//! store applies these rules inside its guarded transitions.

use time::{Date, Month};

use super::flow::{ApproveStatus, FlowStatus, SignerKind};
use crate::error::{ApiError, Code, fail};

/// ChannelBatchCancelFlows' reason when none is given: "如果不传递撤回原因，那么默认撤回原因是
/// "自动撤销（通过接口实现）"".
pub const DEFAULT_BATCH_CANCEL_MESSAGE: &str = "自动撤销（通过接口实现）";
/// "最多100个，超过100不处理".
pub const MAX_CANCEL_FLOWS: usize = 100;
/// Why a contract that is not being signed any more cannot be cancelled, in Tencent's words
/// (DescribeCancelFlowsTask example 2).
pub const NOT_CANCELLABLE: &str = "合同当前状态不支持撤销";
/// Why a contract that is not the Agent's organisation's cannot be cancelled, likewise.
pub const NOT_FOUND: &str = "合同信息不存在或非本企业发起的合同";

/// `CancelMessage`: "长度不能超过200，只能由中文、字母、数字和下划线组成". Chinese punctuation
/// counts as Chinese: Tencent's own default reason has full-width brackets and its example a
/// full-width comma.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelMessage(String);

impl CancelMessage {
    pub fn parse(value: Option<&str>, field: &str) -> Result<Option<CancelMessage>, ApiError> {
        let Some(v) = value.filter(|v| !v.is_empty()) else { return Ok(None) };
        if v.chars().count() > 200 {
            return fail(
                Code::InvalidParameter_CancelReason,
                format!("The parameter `{field}` is longer than 200 characters."),
            );
        }
        if let Some(c) = v.chars().find(|c| !is_reason_char(*c)) {
            return fail(
                Code::InvalidParameter_CancelReason,
                format!(
                    "The parameter `{field}` may only hold Chinese characters, letters, digits and underscores, not `{c}`."
                ),
            );
        }
        Ok(Some(CancelMessage(v.to_owned())))
    }

    pub fn default_for_batch() -> CancelMessage {
        CancelMessage(DEFAULT_BATCH_CANCEL_MESSAGE.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_reason_char(c: char) -> bool {
    super::is_chinese(c)
        || c.is_ascii_alphanumeric()
        || c == '_'
        // CJK symbols and punctuation, full-width forms.
        || matches!(c as u32, 0x3000..=0x303F | 0xFF00..=0xFFEF)
}

/// `CancelMessageFormat`: 0 to 3, how the reason is introduced on the contract's cover.
pub fn cancel_message_format(value: Option<i64>, field: &str) -> Result<i64, ApiError> {
    match value.unwrap_or(0) {
        f @ 0..=3 => Ok(f),
        other => fail(
            Code::InvalidParameter_ParamError,
            format!("The parameter `{field}` must be 0, 1, 2 or 3, not {other}."),
        ),
    }
}

/// Why a contract in `status` (its deadline considered) cannot be cancelled: only a contract
/// still being signed can ("可撤回合同状态：未全部签署完成"; not ALL, REJECT, DEADLINE, CANCEL).
pub fn cancel_refusal(flow: &str, status: FlowStatus) -> ApiError {
    let why = match status {
        FlowStatus::All => "it is signed by everyone",
        FlowStatus::Reject => "it was refused",
        FlowStatus::Deadline => "it is past its deadline",
        FlowStatus::Cancel => "it is cancelled already",
        FlowStatus::Init | FlowStatus::Part => "it changed while being cancelled; try again",
    };
    ApiError::new(
        Code::OperationDenied_FlowHasTerminated,
        format!("The contract `{flow}` (FlowId) cannot be cancelled: {why} ({NOT_CANCELLABLE}, {}).", status.as_str()),
    )
}

/// The seed's refund rule: a cancelled contract's unit of quota comes back "只有在合同被撤销且
/// 没有任何签署方签署过，或者只有授权签署的情况下": when nobody but auto-signers has signed.
/// Never on expiry, rejection or completion, which are not cancels.
pub fn refund_due(approvers: impl IntoIterator<Item = (SignerKind, ApproveStatus)>) -> bool {
    approvers.into_iter().all(|(signer, status)| status != ApproveStatus::Accept || signer == SignerKind::AutoSign)
}

/// China's offset from UTC: bills and usage go by the day in China.
const CHINA_OFFSET: i64 = 8 * 3600;
const DAY: i64 = 86_400;

/// Days, in China time, as a half-open range of Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: i64,
    pub until: i64,
}

/// The first second of `date` in China.
fn china_midnight(date: Date) -> i64 {
    date.midnight().assume_utc().unix_timestamp() - CHINA_OFFSET
}

/// The day in China of Unix seconds, as days since 1970-01-01.
pub fn china_day(unix: i64) -> i64 {
    (unix + CHINA_OFFSET).div_euclid(DAY)
}

/// A day number of [`china_day`] as `yyyy-mm-dd`.
pub fn day_string(day: i64) -> String {
    let date = Date::from_julian_day((2_440_588 + day) as i32).unwrap_or(Date::MIN);
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// From this day on, "开始日期和结束日期必须在同一个自然月内".
const SAME_MONTH_FROM: (i32, Month, u8) = (2026, Month::October, 10);

/// ChannelDescribeBillUsageDetail's `StartTime`/`EndTime`: yyyyMMdd, both days included, at
/// most 31 days, and since 2026-10-10 within one calendar month.
pub fn bill_period(start: Option<&str>, end: Option<&str>, now: i64) -> Result<Period, ApiError> {
    let bad = |field: &str, why: &str| {
        ApiError::new(Code::InvalidParameterValue_InvalidTime, format!("The parameter `{field}` {why}."))
    };
    let parse = |value: Option<&str>, field: &str| -> Result<Date, ApiError> {
        let v = value.filter(|v| !v.trim().is_empty()).ok_or_else(|| bad(field, "is required"))?;
        compact_date(v).ok_or_else(|| bad(field, "must be a date written yyyyMMdd"))
    };
    let (from, to) = (parse(start, "StartTime")?, parse(end, "EndTime")?);
    if to < from {
        return Err(bad("EndTime", "is before StartTime"));
    }
    if (to - from).whole_days() + 1 > 31 {
        return Err(bad("EndTime", "is more than 31 days after StartTime (时间跨度不能大于31天)"));
    }
    let (y, m, d) = SAME_MONTH_FROM;
    let rule_from = Date::from_calendar_date(y, m, d).map(china_midnight).unwrap_or(i64::MAX);
    if now >= rule_from && (from.year(), from.month()) != (to.year(), to.month()) {
        return Err(bad("EndTime", "is not in the same month as StartTime (开始日期和结束日期必须在同一个自然月内)"));
    }
    Ok(Period { from: china_midnight(from), until: china_midnight(to) + DAY })
}

fn compact_date(v: &str) -> Option<Date> {
    if v.len() != 8 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let month = Month::try_from(v[4..6].parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(v[..4].parse().ok()?, month, v[6..].parse().ok()?).ok()
}

/// DescribeUsage's `StartDate`/`EndDate`: yyyy-mm-dd, both days included, at most 90 days.
pub fn usage_period(start: Option<&str>, end: Option<&str>) -> Result<Period, ApiError> {
    let parse = |value: Option<&str>, field: &str| -> Result<Date, ApiError> {
        let v = value.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
            ApiError::new(Code::MissingParameter_Date, format!("The parameter `{field}` is required."))
        })?;
        let parts: Vec<&str> = v.split('-').collect();
        let date = match parts[..] {
            [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => compact_date(&format!("{y}{m}{d}")),
            _ => None,
        };
        date.ok_or_else(|| {
            ApiError::new(
                Code::InvalidParameter_Date,
                format!("The parameter `{field}` must be a date written yyyy-mm-dd."),
            )
        })
    };
    let (from, to) = (parse(start, "StartDate")?, parse(end, "EndDate")?);
    if to < from {
        return fail(Code::InvalidParameter_Date, "The parameter `EndDate` is before StartDate.");
    }
    if (to - from).whole_days() + 1 > 90 {
        return fail(Code::InvalidParameter_Date, "The dates StartDate to EndDate span more than 90 days.");
    }
    Ok(Period { from: china_midnight(from), until: china_midnight(to) + DAY })
}

/// A page of `Limit` rows, the `Offset`-th (pages count from 0: "页码从 0 开始"): `(skip, take)`.
pub fn page(offset: Option<i64>, limit: Option<i64>, default: i64, max: i64) -> Result<(i64, i64), ApiError> {
    let limit = limit.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return fail(
            Code::InvalidParameter_Limit,
            format!("The parameter `Limit` must be 1 to {max}, not {limit} (分页参数不合法)."),
        );
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return fail(
            Code::InvalidParameter_Limit,
            format!("The parameter `Offset` must not be negative, not {offset} (分页参数不合法)."),
        );
    }
    Ok((offset.saturating_mul(limit), limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_000_000; // 2026-11-30

    #[test]
    fn a_cancel_reason_is_at_most_200_chinese_characters_letters_digits_or_underscores() {
        assert_eq!(
            CancelMessage::parse(Some("合同内容错误，需要修正"), "CancelMessage").unwrap().unwrap().as_str(),
            "合同内容错误，需要修正"
        );
        assert!(CancelMessage::parse(Some(DEFAULT_BATCH_CANCEL_MESSAGE), "CancelMessage").unwrap().is_some());
        assert_eq!(CancelMessage::parse(None, "CancelMessage").unwrap(), None);
        assert!(CancelMessage::parse(Some(&"撤".repeat(200)), "CancelMessage").unwrap().is_some());
        for bad in ["撤".repeat(201), "wrong amount!".to_owned(), "a<b>".to_owned()] {
            let e = CancelMessage::parse(Some(&bad), "CancelMessage").unwrap_err();
            assert_eq!(e.code, Code::InvalidParameter_CancelReason, "{bad}");
            assert!(e.message.contains("`CancelMessage`"));
        }
    }

    #[test]
    fn the_cancel_message_format_is_0_to_3() {
        assert_eq!(cancel_message_format(None, "F").unwrap(), 0);
        assert_eq!(cancel_message_format(Some(3), "F").unwrap(), 3);
        assert_eq!(cancel_message_format(Some(4), "F").unwrap_err().code, Code::InvalidParameter_ParamError);
    }

    #[test]
    fn refunded_only_when_nobody_but_auto_signers_signed() {
        use ApproveStatus::*;
        use SignerKind::*;
        assert!(refund_due([(ChannelEmployee, Pending), (Person, Pending)]));
        assert!(refund_due([(AutoSign, Accept), (Person, Pending)]));
        assert!(!refund_due([(AutoSign, Accept), (Person, Accept)]));
        assert!(!refund_due([(ChannelEmployee, Accept), (Person, Pending)]));
    }

    #[test]
    fn days_are_china_days() {
        // 2023-09-18 00:00 in China is 2023-09-17 16:00 UTC.
        assert_eq!(china_day(1_694_966_400), china_day(1_694_966_400 + DAY - 1));
        assert_eq!(day_string(china_day(1_694_966_400)), "2023-09-18");
        assert_eq!(day_string(china_day(1_694_966_399)), "2023-09-17");
    }

    #[test]
    fn a_bill_period_is_at_most_31_days_within_one_month() {
        let p = bill_period(Some("20230902"), Some("20230930"), 0).unwrap();
        assert_eq!(p, Period { from: 1_693_584_000, until: 1_693_584_000 + 29 * DAY });
        let code = |s: &str, e: &str, now: i64| bill_period(Some(s), Some(e), now).unwrap_err().code;
        assert_eq!(code("2023090", "20230930", 0), Code::InvalidParameterValue_InvalidTime);
        assert_eq!(code("20230931", "20230930", 0), Code::InvalidParameterValue_InvalidTime);
        assert_eq!(code("20230930", "20230902", 0), Code::InvalidParameterValue_InvalidTime);
        assert_eq!(code("20230901", "20231002", 0), Code::InvalidParameterValue_InvalidTime);
        assert!(bill_period(Some("20230915"), Some("20231010"), 0).is_ok());
        assert_eq!(code("20230915", "20231010", NOW), Code::InvalidParameterValue_InvalidTime);
        assert_eq!(bill_period(None, Some("20230930"), 0).unwrap_err().code, Code::InvalidParameterValue_InvalidTime);
    }

    #[test]
    fn a_usage_period_is_at_most_90_days() {
        let p = usage_period(Some("2023-11-06"), Some("2023-11-08")).unwrap();
        assert_eq!(p.until - p.from, 3 * DAY);
        assert_eq!(usage_period(Some("2023-11-6"), Some("2023-11-08")).unwrap_err().code, Code::InvalidParameter_Date);
        assert_eq!(usage_period(None, Some("2023-11-08")).unwrap_err().code, Code::MissingParameter_Date);
        assert_eq!(usage_period(Some("2023-01-01"), Some("2023-04-01")).unwrap_err().code, Code::InvalidParameter_Date);
        assert!(usage_period(Some("2023-01-01"), Some("2023-03-31")).is_ok());
    }

    #[test]
    fn pages_count_from_zero() {
        assert_eq!(page(None, None, 100, 100).unwrap(), (0, 100));
        assert_eq!(page(Some(2), Some(20), 100, 100).unwrap(), (40, 20));
        assert_eq!(page(None, Some(500), 100, 100).unwrap_err().code, Code::InvalidParameter_Limit);
        assert_eq!(page(None, Some(0), 100, 100).unwrap_err().code, Code::InvalidParameter_Limit);
        assert_eq!(page(Some(-1), None, 100, 100).unwrap_err().code, Code::InvalidParameter_Limit);
    }
}
