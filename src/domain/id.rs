//! Tencent's resource ids (TemplateId, FlowId, FlowGroupId, SignId, FileId, TaskId, ReportId): 32 letters
//! and digits. One representation, one type per kind, so that a FileId can never be passed
//! where a FlowId is expected: the compiler refuses it.

use std::fmt;
use std::marker::PhantomData;

use super::required;
use crate::error::{ApiError, Code, fail};

/// What kind of resource an [`Id`] names. The kinds are types without values.
pub mod kind {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum Template {}
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum FlowGroup {}
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum Flow {}
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum Sign {}
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum File {}
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum Task {}
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum Report {}
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum CodeEvent {}
}

pub type TemplateId = Id<kind::Template>;
pub type FlowGroupId = Id<kind::FlowGroup>;
pub type FlowId = Id<kind::Flow>;
pub type SignId = Id<kind::Sign>;
pub type FileId = Id<kind::File>;
pub type TaskId = Id<kind::Task>;
/// An evidence report (`ReportId`).
pub type ReportId = Id<kind::Report>;
/// One one-time code sent or checked, in the evidence trail.
pub type CodeEventId = Id<kind::CodeEvent>;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id<K>(String, PhantomData<K>);

impl<K> Id<K> {
    pub const LEN: usize = 32;

    pub fn parse(value: Option<&str>, field: &str) -> Result<Id<K>, ApiError> {
        let v = required(value, field)?;
        if v.len() == Self::LEN && v.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Id(v.to_owned(), PhantomData))
        } else {
            fail(
                Code::InvalidParameter,
                format!("The parameter `{field}` must be a 32-character id of letters and digits."),
            )
        }
    }

    /// A fresh, unguessable id: 8 characters of the time in milliseconds, then 24 random ones
    /// (about 143 bits). Ids made later sort later, so new rows land at the end of the
    /// database's indexes instead of dirtying pages all over them.
    pub fn generate() -> Id<K> {
        use rand::Rng;
        // In ASCII order, so that the ids sort as their times do.
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        const TIME_CHARS: usize = 8;
        let millis =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let mut id = String::with_capacity(Self::LEN);
        let mut t = millis;
        let mut time = [0u8; TIME_CHARS];
        for slot in time.iter_mut().rev() {
            *slot = ALPHABET[(t % 62) as usize];
            t /= 62;
        }
        id.extend(time.iter().map(|&b| b as char));
        let mut rng = rand::rng();
        id.extend((TIME_CHARS..Self::LEN).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char));
        Id(id, PhantomData)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For values read back from storage, which were parsed on the way in.
    pub fn from_stored(value: String) -> Id<K> {
        Id(value, PhantomData)
    }
}

impl<K> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_32_letters_and_digits() {
        assert!(TemplateId::parse(Some("yDwgKUUckp1jdy4dUWptGKRavSGWt9cW"), "TemplateId").is_ok());
        assert_eq!(TemplateId::parse(Some("short"), "TemplateId").unwrap_err().code, Code::InvalidParameter);
        let e = FlowId::parse(Some("yDwgKUUckp1jdy4dUWptGKRavSGWt9c_"), "FlowIds.0").unwrap_err();
        assert_eq!(e.code, Code::InvalidParameter);
        assert!(e.message.contains("`FlowIds.0`"), "{}", e.message);
    }

    #[test]
    fn generated_ids_parse_differ_and_sort_by_time() {
        let a = FlowId::generate();
        assert!(FlowId::parse(Some(a.as_str()), "x").is_ok());
        assert_ne!(a, FlowId::generate());
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(FlowId::generate() > a, "later ids sort later");
    }
}
