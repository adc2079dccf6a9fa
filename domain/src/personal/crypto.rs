//! Encryption at rest of ID numbers and phones, and the blind index for exact lookup.
//!
//! One 32-byte master key comes from configuration (`MINQING_DATA_KEY`, 64 hex digits;
//! never stored in the database). Two keys are derived from it with HMAC-SHA256 under
//! fixed labels, so the operator manages one secret:
//! - the AEAD key (ChaCha20-Poly1305): every value gets a fresh random 96-bit nonce;
//!   the associated data binds the ciphertext to its column and resident id, so a
//!   ciphertext copied onto another row or column fails to open;
//! - the blind-index key: `HMAC-SHA256(index_key, id_number)` as hex, stored in
//!   `residents.id_number_bidx`, so an exact ID lookup is one indexed equality without
//!   decrypting anything.
//!
//! Stored format (TEXT, in the existing `id_number` / `phone` columns):
//! `enc1:` + base64url-without-padding(nonce ‖ ciphertext ‖ tag). The prefix versions the
//! format; anything without it is not a value this module wrote.

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::fmt;
use std::sync::{Arc, OnceLock};

const PREFIX: &str = "enc1:";

/// The keys derived from the configured master key. Never printed.
#[derive(Clone)]
pub struct DataKeys {
    aead: [u8; 32],
    index: [u8; 32],
}

impl fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKeys(***)")
    }
}

fn derive(master: &[u8; 32], label: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master).expect("any key length");
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

impl DataKeys {
    pub fn from_master(master: &[u8; 32]) -> Self {
        DataKeys {
            aead: derive(master, "minqing/aead/v1"),
            index: derive(master, "minqing/blind-index/v1"),
        }
    }

    /// Parse 64 hex digits (surrounding whitespace allowed, e.g. from a key file).
    pub fn from_hex(hex_key: &str) -> Result<Self> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| anyhow!("the data key is not hex"))?;
        let master: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow!("the data key must be 32 bytes (64 hex digits)"))?;
        Ok(Self::from_master(&master))
    }

    /// A fresh random master key as hex (for `minqing demo` and operators).
    pub fn generate_hex() -> String {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        hex::encode(k)
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new((&self.aead).into())
    }

    /// Encrypt `plain` for `column` of the resident `row_id`.
    pub fn encrypt(&self, column: &str, row_id: &str, plain: &str) -> String {
        // A random 96-bit nonce from the thread's CSPRNG (ChaCha, seeded from the OS and
        // reseeded): the OS call per value was a tenth of an import's time.
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let aad = format!("{column}\u{0}{row_id}");
        let ct = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("ChaCha20-Poly1305 encryption cannot fail for short inputs");
        let mut raw = Vec::with_capacity(12 + ct.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&ct);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw))
    }

    /// Decrypt a value written by [`Self::encrypt`] for the same column and row.
    pub fn decrypt(&self, column: &str, row_id: &str, stored: &str) -> Result<String> {
        let Some(b64) = stored.strip_prefix(PREFIX) else {
            bail!("{column} of {row_id} is not encrypted")
        };
        let raw = URL_SAFE_NO_PAD
            .decode(b64)
            .context("ciphertext is not base64")?;
        if raw.len() < 12 + 16 {
            bail!("ciphertext too short");
        }
        let aad = format!("{column}\u{0}{row_id}");
        let plain = self
            .cipher()
            .decrypt(
                Nonce::from_slice(&raw[..12]),
                Payload {
                    msg: &raw[12..],
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| anyhow!("{column} of {row_id} does not open with this key"))?;
        String::from_utf8(plain).context("decrypted value is not UTF-8")
    }

    /// The secret of the disclosure layer's cell keys (`crate::disclosure`), derived
    /// from the blind-index key: a caller who knew it could strip the noise.
    pub fn cell_key_secret(&self) -> [u8; 32] {
        derive(&self.index, "minqing/cell-key/v1")
    }

    /// The blind index of an ID number (upper-cased, so a trailing x matches X).
    pub fn blind_index(&self, id_number: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.index).expect("any key length");
        mac.update(id_number.trim().to_ascii_uppercase().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The stored form of a resident's ID number and phone.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedFields {
    pub id_number: String,
    pub id_number_bidx: String,
    pub phone: Option<String>,
}

/// Encrypt a resident's ID number and phone for storage and compute the blind index.
pub fn seal(
    keys: &DataKeys,
    resident_id: &str,
    id_number: &str,
    phone: Option<&str>,
) -> SealedFields {
    SealedFields {
        id_number: keys.encrypt("id_number", resident_id, id_number),
        id_number_bidx: keys.blind_index(id_number),
        phone: phone.map(|p| keys.encrypt("phone", resident_id, p)),
    }
}

static KEYS: OnceLock<Arc<DataKeys>> = OnceLock::new();

/// Install the process's data keys (once, at start, from configuration). Returns an
/// error if different keys were already installed.
pub fn install_keys(keys: DataKeys) -> Result<()> {
    let keys = Arc::new(keys);
    let installed = KEYS.get_or_init(|| keys.clone());
    if installed.aead != keys.aead {
        bail!("data keys were already installed");
    }
    Ok(())
}

/// The process's data keys. `main` installs them from configuration before anything
/// touches personal data; a process that never did (a test binary) gets a random key
/// that lives as long as the process, so nothing is ever stored in plain text.
pub fn keys() -> Arc<DataKeys> {
    KEYS.get_or_init(|| {
        tracing::warn!("no data key installed: using an ephemeral random key for this process");
        Arc::new(DataKeys::from_hex(&DataKeys::generate_hex()).expect("fresh key parses"))
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_binding_and_blind_index() {
        let k = DataKeys::from_hex(&"11".repeat(32)).unwrap();
        let s = seal(&k, "R1", "51060319900101123X", Some("13812345678"));
        assert!(s.id_number.starts_with("enc1:"));
        assert!(!s.id_number.contains("1990"));
        assert_eq!(
            k.decrypt("id_number", "R1", &s.id_number).unwrap(),
            "51060319900101123X"
        );
        assert_eq!(
            k.decrypt("phone", "R1", s.phone.as_ref().unwrap()).unwrap(),
            "13812345678"
        );
        // Bound to its row and column.
        assert!(k.decrypt("id_number", "R2", &s.id_number).is_err());
        assert!(k.decrypt("phone", "R1", &s.id_number).is_err());
        // Fresh nonce per value.
        assert_ne!(
            s.id_number,
            seal(&k, "R1", "51060319900101123X", None).id_number
        );
        assert_eq!(s.id_number_bidx, k.blind_index("51060319900101123x"));
        let other = DataKeys::from_hex(&"22".repeat(32)).unwrap();
        assert!(other.decrypt("id_number", "R1", &s.id_number).is_err());
        assert_ne!(other.blind_index("51060319900101123X"), s.id_number_bidx);
        assert!(DataKeys::from_hex("abc").is_err());
        assert!(!format!("{k:?}").contains("11"));
    }
}
