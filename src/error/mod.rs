//! Tencent-shaped errors: every code qianshu can emit is a variant of [`Code`], generated from the
//! official SDK's `errorcodes.py`, so an uncatalogued code cannot be written.

use std::fmt;

macro_rules! error_catalog {
    ($($ident:ident => $code:literal, $doc:literal;)*) => {
        /// Every error code of the catalog. Variant names are the wire codes with `.` spelled `_`.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $(#[doc = $doc] $ident,)*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$ident,)*];

            /// The code exactly as it goes on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$ident => $code,)* }
            }
        }
    };
}

include!("catalog.rs");

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error the client is meant to see: a catalogued code and a message naming what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: Code,
    pub message: String,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into() }
    }
}

/// What a request can fail with: a client error, or an internal one whose cause stays in the log.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Client(#[from] ApiError),
    /// Storage, I/O and other faults. Internal is the default class: the client only sees
    /// `InternalError` and the RequestId, the cause chain is logged under the same id.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Internal(anyhow::Error::new(e).context("database"))
    }
}

/// Shorthand for the many `Err(ApiError::new(..))` of the parse rules.
pub fn fail<T>(code: Code, message: impl Into<String>) -> Result<T, ApiError> {
    Err(ApiError::new(code, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_code_is_unique_and_spelled_like_its_variant() {
        let mut seen = HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {code}");
            assert_eq!(format!("{code:?}"), code.as_str().replace('.', "_"));
        }
    }

    #[test]
    fn the_catalog_holds_the_oddities_and_the_common_codes() {
        let all: HashSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        for code in [
            "InvalidParameter.fFowIds",
            "AuthFailure.SignatureExpire",
            "AuthFailure.SecretIdNotFound",
            "AuthFailure.SignatureFailure",
            "AuthFailure.InvalidAuthorization",
            "NoSuchVersion",
            "InvalidAction",
            "UnsupportedOperation",
            "UnknownParameter",
            "RequestLimitExceeded",
            "OperationDenied.NoQuota",
        ] {
            assert!(all.contains(code), "{code} missing");
        }
    }
}
