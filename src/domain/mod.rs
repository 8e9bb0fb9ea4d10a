//! Domain types: they parse from raw values and cannot hold invalid data. Each parse failure is
//! an [`ApiError`] carrying the exact Tencent code and naming the offending field. Nothing here
//! knows JSON or HTTP.

pub mod callback;
pub mod document;
pub mod evidence;
pub mod file;
pub mod fill;
pub mod flow;
pub mod id;
pub mod lifecycle;
pub mod link;
pub mod remind;
pub mod review;
pub mod signing;
pub mod template;
pub mod tenancy;

use crate::error::{ApiError, Code, fail};

/// A required text field: present and not blank.
pub fn required<'a>(value: Option<&'a str>, field: &str) -> Result<&'a str, ApiError> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => fail(Code::MissingParameter, format!("The parameter `{field}` is required.")),
    }
}

/// At most `max` characters (characters, not bytes: 200 Chinese characters are 600 bytes).
pub fn at_most(value: &str, max: usize, field: &str) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n > max {
        return fail(
            Code::InvalidParameter,
            format!("The parameter `{field}` is {n} characters long; at most {max} are allowed."),
        );
    }
    Ok(())
}

/// Tencent's "中文、字母、数字和下划线" rule for names.
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || is_chinese(c)
}

/// Tencent's names: at most `max` characters, each Chinese, a letter, a digit or `_`; a
/// breach is `code`, naming the field (and the first character that does not belong).
pub fn name_chars(value: &str, max: usize, field: &str, code: Code) -> Result<(), ApiError> {
    at_most(value, max, field).map_err(|e| ApiError::new(code, e.message))?;
    if let Some(c) = value.chars().find(|c| !is_name_char(*c)) {
        return fail(
            code,
            format!(
                "The parameter `{field}` may only hold Chinese characters, letters, digits and underscores, not `{c}`."
            ),
        );
    }
    Ok(())
}

/// CJK ideographs (the unified block and its extensions, plus compatibility ideographs).
pub fn is_chinese(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2A6DF | 0x2A700..=0x2EBEF | 0x30000..=0x3134F)
}

/// An identifier the platform chooses (`AppId`, an `OpenId`): 1 to 64 printable characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExternalId(String);

impl ExternalId {
    pub fn parse(value: Option<&str>, field: &str) -> Result<ExternalId, ApiError> {
        let v = required(value, field)?;
        at_most(v, 64, field)?;
        if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return fail(
                Code::InvalidParameter,
                format!("The parameter `{field}` must not contain spaces or control characters."),
            );
        }
        Ok(ExternalId(v.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For values read back from storage, which were parsed on the way in.
    pub fn from_stored(value: String) -> ExternalId {
        ExternalId(value)
    }
}

impl std::fmt::Display for ExternalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mainland China mobile number: 11 digits starting with 1, no `+86`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mobile(String);

impl Mobile {
    pub fn parse(value: &str, field: &str) -> Result<Mobile, ApiError> {
        let b = value.as_bytes();
        let rule = format!("The parameter `{field}` must be an 11-digit mainland mobile number");
        // Each refusal names the one thing to change, so the caller need not guess which rule failed.
        let why = if value.starts_with("+86") || (value.starts_with("86") && b.len() == 13) {
            "; leave out the +86 country code".to_owned()
        } else if let Some(c) = value.chars().find(|c| !c.is_ascii_digit()) {
            format!(" written in digits only, without `{c}`")
        } else if b.len() != 11 {
            format!(", not {} digits", b.len())
        } else if b[0] != b'1' {
            format!(", which starts with 1, not {}", b[0] as char)
        } else if !(b'3'..=b'9').contains(&b[1]) {
            format!(", whose second digit is 3 to 9, not {}", b[1] as char)
        } else {
            return Ok(Mobile(value.to_owned()));
        };
        fail(Code::InvalidParameter_Mobile, format!("{rule}{why}."))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(value: String) -> Mobile {
        Mobile(value)
    }
}

/// A person's name: 1 to 50 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(value: Option<&str>, field: &str) -> Result<PersonName, ApiError> {
        let v = required(value, field)?;
        at_most(v, 50, field)?;
        if v.chars().any(char::is_control) {
            return fail(
                Code::InvalidParameter_Name,
                format!("The parameter `{field}` must not contain control characters."),
            );
        }
        Ok(PersonName(v.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(value: String) -> PersonName {
        PersonName(value)
    }
}

/// Identity document kinds the API accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdCardType {
    IdCard,
    HongKongAndMacao,
    HongKongMacaoAndTaiwan,
}

impl IdCardType {
    pub fn parse(value: &str, field: &str) -> Result<IdCardType, ApiError> {
        match value {
            "ID_CARD" => Ok(IdCardType::IdCard),
            "HONGKONG_AND_MACAO" => Ok(IdCardType::HongKongAndMacao),
            "HONGKONG_MACAO_AND_TAIWAN" => Ok(IdCardType::HongKongMacaoAndTaiwan),
            _ => fail(
                Code::InvalidParameter_CardType,
                format!("The parameter `{field}` must be ID_CARD, HONGKONG_AND_MACAO or HONGKONG_MACAO_AND_TAIWAN."),
            ),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IdCardType::IdCard => "ID_CARD",
            IdCardType::HongKongAndMacao => "HONGKONG_AND_MACAO",
            IdCardType::HongKongMacaoAndTaiwan => "HONGKONG_MACAO_AND_TAIWAN",
        }
    }
}

/// An identity document: its kind and a number in that kind's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdCard {
    pub kind: IdCardType,
    pub number: String,
}

impl IdCard {
    /// `kind` defaults to ID_CARD, as the API documents.
    pub fn parse(kind: Option<&str>, number: &str, kind_field: &str, number_field: &str) -> Result<IdCard, ApiError> {
        let kind = match kind.filter(|k| !k.is_empty()) {
            Some(k) => IdCardType::parse(k, kind_field)?,
            None => IdCardType::IdCard,
        };
        let b = number.as_bytes();
        let ok = match kind {
            // 17 digits and a check character (digit or upper-case X); also for residence permits.
            IdCardType::IdCard | IdCardType::HongKongMacaoAndTaiwan => {
                b.len() == 18 && b[..17].iter().all(u8::is_ascii_digit) && (b[17].is_ascii_digit() || b[17] == b'X')
            }
            IdCardType::HongKongAndMacao => {
                b.len() == 11 && matches!(b[0], b'H' | b'M') && b[1..].iter().all(u8::is_ascii_digit)
            }
        };
        if !ok {
            let rule = match kind {
                IdCardType::HongKongAndMacao => "H or M followed by 10 digits",
                _ => "18 characters: 17 digits and a digit or upper-case X",
            };
            return fail(
                Code::InvalidParameter_CardNumber,
                format!("The parameter `{number_field}` is not a valid {} number: {rule}.", kind.as_str()),
            );
        }
        Ok(IdCard { kind, number: number.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mobile_must_be_eleven_mainland_digits() {
        assert!(Mobile::parse("13800000008", "Mobile").is_ok());
        let rule = "The parameter `Mobile` must be an 11-digit mainland mobile number";
        for (bad, why) in [
            ("+8613800000008", "; leave out the +86 country code"),
            ("8613800000008", "; leave out the +86 country code"),
            ("1380000000", ", not 10 digits"),
            ("138000000081", ", not 12 digits"),
            ("", ", not 0 digits"),
            ("23800000008", ", which starts with 1, not 2"),
            ("12800000008", ", whose second digit is 3 to 9, not 2"),
            ("1380000000a", " written in digits only, without `a`"),
            ("138-0000-0008", " written in digits only, without `-`"),
        ] {
            let e = Mobile::parse(bad, "Mobile").unwrap_err();
            assert_eq!((e.code, e.message), (Code::InvalidParameter_Mobile, format!("{rule}{why}.")), "{bad}");
        }
    }

    #[test]
    fn an_id_card_number_follows_its_kind() {
        assert!(IdCard::parse(None, "11010519491231002X", "T", "N").is_ok());
        assert!(IdCard::parse(Some("HONGKONG_AND_MACAO"), "H1234567890", "T", "N").is_ok());
        assert_eq!(
            IdCard::parse(None, "11010519491231002x", "T", "N").unwrap_err().code,
            Code::InvalidParameter_CardNumber
        );
        assert_eq!(
            IdCard::parse(Some("HONGKONG_AND_MACAO"), "X1234567890", "T", "N").unwrap_err().code,
            Code::InvalidParameter_CardNumber
        );
        assert_eq!(IdCard::parse(Some("PASSPORT"), "E1", "T", "N").unwrap_err().code, Code::InvalidParameter_CardType);
    }

    #[test]
    fn an_external_id_is_one_to_64_printable_characters() {
        assert!(ExternalId::parse(Some("kev_open_organization_8"), "OpenId").is_ok());
        assert_eq!(ExternalId::parse(Some(""), "OpenId").unwrap_err().code, Code::MissingParameter);
        assert_eq!(
            ExternalId::parse(None, "Agent.AppId").unwrap_err().message,
            "The parameter `Agent.AppId` is required."
        );
        assert_eq!(ExternalId::parse(Some(&"a".repeat(65)), "OpenId").unwrap_err().code, Code::InvalidParameter);
        assert_eq!(ExternalId::parse(Some("a b"), "OpenId").unwrap_err().code, Code::InvalidParameter);
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert!(at_most(&"合".repeat(200), 200, "F").is_ok());
        assert!(at_most(&"合".repeat(201), 200, "F").is_err());
    }

    #[test]
    fn name_characters_are_chinese_letters_digits_and_underscore() {
        assert!("2023年张三入职合同_v2".chars().all(is_name_char));
        for c in ['-', ' ', '（', '!', 'é'] {
            assert!(!is_name_char(c), "{c}");
        }
    }
}
