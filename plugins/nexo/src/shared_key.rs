//! Adyen's shared-key message protection for the local Terminal API (AdyenCryptoVersion 1),
//! as the reference (`protocols.md` §2.1) and Adyen's client libraries do it:
//!
//! - key material: PBKDF2-HMAC-SHA1 of the passphrase, salt `AdyenNexoV1Salt`, 4000 rounds,
//!   80 bytes, split into an HMAC key (32), a cipher key (32) and an IV (16);
//! - per message: a random 16-byte nonce; AES-256-CBC with IV = iv XOR nonce and PKCS#7
//!   padding; HMAC-SHA256 over the plaintext;
//! - on the wire: the whole JSON message is encrypted; the envelope keeps its `MessageHeader`
//!   in clear next to `NexoBlob` (base64 ciphertext) and `SecurityTrailer` {AdyenCryptoVersion,
//!   KeyIdentifier, KeyVersion, Nonce, Hmac} (nonce and HMAC base64).
//!
//! The derived keys never leave this module and its `Debug` output shows none of them.

use std::fmt;
use std::num::NonZeroU32;

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value};

/// The PBKDF2 salt every Adyen library uses.
const SALT: &[u8] = b"AdyenNexoV1Salt";
/// PBKDF2 rounds.
const ROUNDS: NonZeroU32 = NonZeroU32::new(4000).expect("4000 is not zero");
/// The only crypto version defined.
pub const CRYPTO_VERSION: u32 = 1;

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// Why a message could not be protected or unprotected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedKeyError {
    /// The message is not the JSON envelope expected (what is wrong).
    Envelope(String),
    /// A trailer field is missing or malformed (which).
    Trailer(&'static str),
    /// The HMAC does not match, or the ciphertext does not decrypt with this key: both mean
    /// the message was altered or the two sides hold different keys.
    Authentication,
    /// The system's random source failed.
    Random,
}

impl fmt::Display for SharedKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SharedKeyError::Envelope(what) => write!(f, "protected message: {what}"),
            SharedKeyError::Trailer(field) => {
                write!(
                    f,
                    "protected message: SecurityTrailer.{field} is missing or malformed"
                )
            }
            SharedKeyError::Authentication => f.write_str("message authentication failed"),
            SharedKeyError::Random => f.write_str("the system random source failed"),
        }
    }
}

impl std::error::Error for SharedKeyError {}

/// One message's protection: the ciphertext and its trailer values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// AES-256-CBC ciphertext (`NexoBlob` before base64).
    pub blob: Vec<u8>,
    /// The per-message nonce.
    pub nonce: [u8; 16],
    /// HMAC-SHA256 of the plaintext.
    pub hmac: [u8; 32],
}

/// The key material derived from a passphrase, with the identifiers the trailer carries.
#[derive(Clone)]
pub struct SharedKey {
    hmac_key: [u8; 32],
    cipher_key: [u8; 32],
    iv: [u8; 16],
    key_identifier: String,
    key_version: u32,
}

impl fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys are secrets: only the identifiers.
        f.debug_struct("SharedKey")
            .field("key_identifier", &self.key_identifier)
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

impl SharedKey {
    /// Derives the key material from the passphrase set up on the terminal.
    pub fn derive(passphrase: &str, key_identifier: &str, key_version: u32) -> SharedKey {
        let mut material = [0u8; 80];
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA1,
            ROUNDS,
            SALT,
            passphrase.as_bytes(),
            &mut material,
        );
        let mut key = SharedKey {
            hmac_key: [0; 32],
            cipher_key: [0; 32],
            iv: [0; 16],
            key_identifier: key_identifier.to_owned(),
            key_version,
        };
        key.hmac_key.copy_from_slice(&material[..32]);
        key.cipher_key.copy_from_slice(&material[32..64]);
        key.iv.copy_from_slice(&material[64..]);
        key
    }

    /// `KeyIdentifier`.
    pub fn key_identifier(&self) -> &str {
        &self.key_identifier
    }

    /// `KeyVersion`.
    pub fn key_version(&self) -> u32 {
        self.key_version
    }

    fn message_iv(&self, nonce: &[u8; 16]) -> [u8; 16] {
        let mut iv = self.iv;
        for (b, n) in iv.iter_mut().zip(nonce) {
            *b ^= n;
        }
        iv
    }

    /// Encrypts with a given nonce (tests and known vectors; use [`SharedKey::seal`]).
    pub fn seal_with_nonce(&self, plaintext: &[u8], nonce: [u8; 16]) -> Sealed {
        let blob = Aes256CbcEnc::new(&self.cipher_key.into(), &self.message_iv(&nonce).into())
            .encrypt_padded_vec::<Pkcs7>(plaintext);
        let tag = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.hmac_key),
            plaintext,
        );
        let mut hmac = [0u8; 32];
        hmac.copy_from_slice(tag.as_ref());
        Sealed { blob, nonce, hmac }
    }

    /// Encrypts with a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Sealed, SharedKeyError> {
        let mut nonce = [0u8; 16];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SharedKeyError::Random)?;
        Ok(self.seal_with_nonce(plaintext, nonce))
    }

    /// Decrypts and checks the HMAC (in constant time).
    pub fn open(&self, sealed: &Sealed) -> Result<Vec<u8>, SharedKeyError> {
        // A padding error is reported like a bad HMAC: both mean "not our key or altered",
        // and telling them apart would hand out a padding oracle.
        let plaintext = Aes256CbcDec::new(
            &self.cipher_key.into(),
            &self.message_iv(&sealed.nonce).into(),
        )
        .decrypt_padded_vec::<Pkcs7>(&sealed.blob)
        .map_err(|_| SharedKeyError::Authentication)?;
        ring::hmac::verify(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.hmac_key),
            &plaintext,
            &sealed.hmac,
        )
        .map_err(|_| SharedKeyError::Authentication)?;
        Ok(plaintext)
    }

    /// Protects a whole JSON message (`{"SaleToPOIRequest": {...}}`): the result keeps the
    /// envelope name and the `MessageHeader` in clear and carries the rest in `NexoBlob`.
    pub fn protect_message(&self, message: &[u8]) -> Result<Vec<u8>, SharedKeyError> {
        let value: Value = serde_json::from_slice(message)
            .map_err(|e| SharedKeyError::Envelope(format!("not json: {e}")))?;
        let (name, inner) = single_envelope(&value)?;
        let header = inner
            .get("MessageHeader")
            .cloned()
            .ok_or_else(|| SharedKeyError::Envelope(format!("{name} has no MessageHeader")))?;
        let sealed = self.seal(message)?;
        Ok(self.wrap(name, header, &sealed).to_string().into_bytes())
    }

    /// The protected envelope for `sealed`.
    pub fn wrap(&self, envelope: &str, header: Value, sealed: &Sealed) -> Value {
        let mut trailer = Map::new();
        trailer.insert("AdyenCryptoVersion".into(), CRYPTO_VERSION.into());
        trailer.insert("KeyIdentifier".into(), self.key_identifier.as_str().into());
        trailer.insert("KeyVersion".into(), self.key_version.into());
        trailer.insert("Nonce".into(), B64.encode(sealed.nonce).into());
        trailer.insert("Hmac".into(), B64.encode(sealed.hmac).into());
        let mut inner = Map::new();
        inner.insert("MessageHeader".into(), header);
        inner.insert("NexoBlob".into(), B64.encode(&sealed.blob).into());
        inner.insert("SecurityTrailer".into(), Value::Object(trailer));
        let mut outer = Map::new();
        outer.insert(envelope.to_owned(), Value::Object(inner));
        Value::Object(outer)
    }

    /// Unprotects a message read from the terminal: `Ok(None)` if it carries no `NexoBlob`
    /// (the caller decides what an unprotected answer means), else the decrypted JSON bytes.
    pub fn unprotect_message(&self, message: &[u8]) -> Result<Option<Vec<u8>>, SharedKeyError> {
        let value: Value = serde_json::from_slice(message)
            .map_err(|e| SharedKeyError::Envelope(format!("not json: {e}")))?;
        let (_, inner) = single_envelope(&value)?;
        let Some(blob) = inner.get("NexoBlob") else {
            return Ok(None);
        };
        let blob = blob
            .as_str()
            .and_then(|b| B64.decode(b.trim()).ok())
            .ok_or_else(|| SharedKeyError::Envelope("NexoBlob is not base64 text".into()))?;
        let trailer = inner
            .get("SecurityTrailer")
            .and_then(Value::as_object)
            .ok_or(SharedKeyError::Trailer("(object)"))?;
        let bytes = |field: &'static str| {
            trailer
                .get(field)
                .and_then(Value::as_str)
                .and_then(|t| B64.decode(t.trim()).ok())
                .ok_or(SharedKeyError::Trailer(field))
        };
        let nonce: [u8; 16] = bytes("Nonce")?
            .try_into()
            .map_err(|_| SharedKeyError::Trailer("Nonce"))?;
        let hmac: [u8; 32] = bytes("Hmac")?
            .try_into()
            .map_err(|_| SharedKeyError::Trailer("Hmac"))?;
        self.open(&Sealed { blob, nonce, hmac }).map(Some)
    }
}

/// The one `SaleToPOIRequest` / `SaleToPOIResponse` member of a message.
fn single_envelope(value: &Value) -> Result<(&str, &Map<String, Value>), SharedKeyError> {
    let top = value
        .as_object()
        .ok_or_else(|| SharedKeyError::Envelope("not a json object".into()))?;
    top.iter()
        .find_map(|(k, v)| {
            matches!(k.as_str(), "SaleToPOIRequest" | "SaleToPOIResponse")
                .then_some(())
                .and_then(|()| v.as_object().map(|m| (k.as_str(), m)))
        })
        .ok_or_else(|| {
            SharedKeyError::Envelope("no SaleToPOIRequest or SaleToPOIResponse object".into())
        })
}
