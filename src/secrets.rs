//! Secrets at rest: values sealed with AES-256-GCM under the master key, and the master key
//! itself (from `--master-key`, or else a key file generated in the data dir).
//!
//! A sealed value is `enc1:` + base64(nonce ‖ ciphertext ‖ tag), with a random 96-bit nonce per
//! value. The associated data names the value's place (table, column, row key), so a ciphertext
//! copied to another row or column does not open. The master key never goes into the database.

use std::fmt;
use std::io::Write;
use std::path::Path;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, Generate, Key, KeyInit, Nonce, Payload};
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use secrecy::{ExposeSecret, SecretString};

/// What every sealed value starts with; the digit is the format's version.
pub const SEALED_PREFIX: &str = "enc1:";

/// The file a generated master key is kept in, inside the data dir.
pub const KEY_FILE: &str = "master.key";

/// Where the setting comes from, for messages.
pub const SETTING: &str = "--master-key (QIANSHU_MASTER_KEY)";

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The key that seals secrets at rest. It never prints.
#[derive(Clone)]
pub struct MasterKey {
    cipher: Aes256Gcm,
    origin: String,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey(*** from {})", self.origin)
    }
}

/// The master key given is not 64 hex characters. Says nothing of the value.
#[derive(Debug, thiserror::Error)]
#[error("must be 64 hex characters (32 bytes), such as `openssl rand -hex 32` prints")]
pub struct MalformedMasterKey;

/// Why a stored value did not open.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("is not sealed (no `{SEALED_PREFIX}` prefix)")]
    NotSealed,
    #[error("is not a well-formed sealed value")]
    Malformed,
    #[error("does not open with the master key from {0}")]
    WrongKeyOrPlace(String),
}

/// Where a sealed value lives; it is bound to this place.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row: &'a str,
}

impl Place<'_> {
    /// NUL cannot occur in any part (SQL names and row keys are text), so the parts cannot run
    /// into each other: ("a", "bc") and ("ab", "c") differ.
    fn associated_data(&self) -> Vec<u8> {
        [SEALED_PREFIX, self.table, self.column, self.row].join("\0").into_bytes()
    }
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{} of `{}`", self.table, self.column, self.row)
    }
}

impl MasterKey {
    /// 64 hex characters, surrounding whitespace ignored; `origin` names where it came from.
    pub fn from_hex(text: &str, origin: impl Into<String>) -> Result<MasterKey, MalformedMasterKey> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| MalformedMasterKey)?;
        let key = MasterKey { cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(bytes)), origin: origin.into() };
        zeroize(&mut bytes);
        Ok(key)
    }

    /// The key kept in `path`, made there first (random, mode 0600) if the file does not exist.
    /// Says whether it was made now.
    pub fn from_file_or_create(path: &Path) -> anyhow::Result<(MasterKey, bool)> {
        let origin = format!("the key file {}", path.display());
        let created = match std::fs::metadata(path) {
            Ok(_) => false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key_file(path)?,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let text = SecretString::from(
            std::fs::read_to_string(path).with_context(|| format!("reading the master key {}", path.display()))?,
        );
        let key = MasterKey::from_hex(text.expose_secret(), origin)
            .with_context(|| format!("the master key in {}", path.display()))?;
        Ok((key, created))
    }

    /// Where the key came from, for messages (never the key).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn seal(&self, place: Place<'_>, plaintext: &str) -> String {
        let nonce = Nonce::<Aes256Gcm>::generate();
        let aad = place.associated_data();
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: plaintext.as_bytes(), aad: &aad })
            .expect("AES-GCM encrypts any value shorter than 64 GiB");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", BASE64.encode(out))
    }

    pub fn open(&self, place: Place<'_>, stored: &str) -> Result<SecretString, OpenError> {
        let encoded = stored.strip_prefix(SEALED_PREFIX).ok_or(OpenError::NotSealed)?;
        let bytes = BASE64.decode(encoded).map_err(|_| OpenError::Malformed)?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(OpenError::Malformed);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| OpenError::Malformed)?;
        let aad = place.associated_data();
        let plain = self
            .cipher
            .decrypt(&nonce, Payload { msg: sealed, aad: &aad })
            .map_err(|_| OpenError::WrongKeyOrPlace(self.origin.clone()))?;
        // Every sealed value was a `&str`, so failing here means the key and place matched but the
        // value did not come from `seal`.
        String::from_utf8(plain).map(SecretString::from).map_err(|_| OpenError::Malformed)
    }
}

/// Is this stored value sealed (rather than plaintext left by an older version)?
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED_PREFIX)
}

/// Writes a fresh key to a private temporary file and links it into place only if nobody has
/// made the file meanwhile, so `path` is never seen half-written and two processes starting at
/// once agree on one key. Returns whether this call made it.
fn create_key_file(path: &Path) -> anyhow::Result<bool> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut bytes = Key::<Aes256Gcm>::generate();
    let text = SecretString::from(format!("{}\n", hex::encode(bytes.as_slice())));
    zeroize(bytes.as_mut_slice());
    // tempfile creates the file with mode 0600 on Unix.
    let mut file =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("creating a file in {}", dir.display()))?;
    file.write_all(text.expose_secret().as_bytes())?;
    file.as_file().sync_all()?;
    match file.persist_noclobber(path) {
        Ok(_) => Ok(true),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e.error).with_context(|| format!("writing the master key {}", path.display())),
    }
}

fn zeroize(bytes: &mut [u8]) {
    secrecy::zeroize::Zeroize::zeroize(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const OTHER: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn key(hex: &str) -> MasterKey {
        MasterKey::from_hex(hex, "a test").unwrap()
    }

    fn place(row: &str) -> Place<'_> {
        Place { table: "application_secrets", column: "secret_key", row }
    }

    #[test]
    fn a_sealed_value_opens_to_what_was_sealed() {
        let sealed = key(KEY).seal(place("AKIDa"), "secret 密钥");
        assert!(sealed.starts_with("enc1:"), "{sealed}");
        assert!(!sealed.contains("secret"));
        assert_eq!(key(KEY).open(place("AKIDa"), &sealed).unwrap().expose_secret(), "secret 密钥");
    }

    #[test]
    fn the_same_value_sealed_twice_differs_by_its_nonce() {
        let k = key(KEY);
        assert_ne!(k.seal(place("AKIDa"), "v"), k.seal(place("AKIDa"), "v"));
        // prefix + base64 of 12 nonce bytes, 1 ciphertext byte, 16 tag bytes
        assert_eq!(k.seal(place("AKIDa"), "v").len(), 5 + (12 + 1 + 16usize).div_ceil(3) * 4);
    }

    #[test]
    fn another_key_does_not_open_it() {
        let sealed = key(KEY).seal(place("AKIDa"), "v");
        assert_eq!(key(OTHER).open(place("AKIDa"), &sealed).err(), Some(OpenError::WrongKeyOrPlace("a test".into())));
    }

    #[test]
    fn a_value_moved_to_another_row_or_column_does_not_open() {
        let k = key(KEY);
        let sealed = k.seal(place("AKIDa"), "v");
        assert!(matches!(k.open(place("AKIDb"), &sealed), Err(OpenError::WrongKeyOrPlace(_))));
        let column = Place { table: "applications", column: "callback_token", row: "AKIDa" };
        assert!(matches!(k.open(column, &sealed), Err(OpenError::WrongKeyOrPlace(_))));
        // The parts are separated, so shifting a character from one to the next changes the place.
        let shifted = Place { table: "application_secrets", column: "secret_keyA", row: "KIDa" };
        assert!(matches!(k.open(shifted, &sealed), Err(OpenError::WrongKeyOrPlace(_))));
    }

    #[test]
    fn a_tampered_value_does_not_open() {
        let k = key(KEY);
        let sealed = k.seal(place("AKIDa"), "value");
        let mut bytes = BASE64.decode(&sealed[5..]).unwrap();
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[i] ^= 1;
            let tampered = format!("enc1:{}", BASE64.encode(&bytes));
            assert!(matches!(k.open(place("AKIDa"), &tampered), Err(OpenError::WrongKeyOrPlace(_))), "byte {i}");
            bytes[i] ^= 1;
        }
        let cut = format!("enc1:{}", BASE64.encode(&bytes[..NONCE_LEN + TAG_LEN - 1]));
        assert_eq!(k.open(place("AKIDa"), &cut).err(), Some(OpenError::Malformed));
        assert_eq!(k.open(place("AKIDa"), "enc1:not base64!").err(), Some(OpenError::Malformed));
        assert_eq!(k.open(place("AKIDa"), "plaintextSecretKey").err(), Some(OpenError::NotSealed));
    }

    #[test]
    fn a_master_key_is_64_hex_characters_and_never_prints() {
        assert!(MasterKey::from_hex(&format!(" {KEY}\n"), "x").is_ok());
        for bad in ["", &KEY[..62], &format!("{KEY}00"), &KEY.replace('0', "g"), "K".repeat(44).as_str()] {
            assert!(MasterKey::from_hex(bad, "x").is_err(), "{bad}");
        }
        let printed = format!("{:?}", key(KEY));
        assert_eq!(printed, "MasterKey(*** from a test)");
    }

    #[test]
    fn a_generated_key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(KEY_FILE);
        let (first, created) = MasterKey::from_file_or_create(&path).unwrap();
        assert!(created);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 65);
        assert!(text.ends_with('\n') && text[..64].bytes().all(|b| b.is_ascii_hexdigit()), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let (again, created) = MasterKey::from_file_or_create(&path).unwrap();
        assert!(!created);
        let sealed = first.seal(place("AKIDa"), "v");
        assert_eq!(again.open(place("AKIDa"), &sealed).unwrap().expose_secret(), "v");
        assert_eq!(again.origin(), format!("the key file {}", path.display()));
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary file is left");
    }

    #[test]
    fn a_key_file_that_is_not_a_key_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        std::fs::write(&path, "not a key").unwrap();
        let e = format!("{:#}", MasterKey::from_file_or_create(&path).unwrap_err());
        assert_eq!(e, format!("the master key in {}: {MalformedMasterKey}", path.display()));
        assert!(!e.contains("not a key"));
    }
}
