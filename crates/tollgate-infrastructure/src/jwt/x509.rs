//! Key material: generating a key of each algorithm with its self-signed certificate, telling a
//! key's algorithm, and the certificate's thumbprint that is the `kid`.

use chrono::{DateTime, Duration, Utc};
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::bn::{BigNum, BigNumContext, MsbOption};
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectKeyIdentifier};
use openssl::x509::{X509Builder, X509NameBuilder, X509};

use super::SigningAlgorithm;
use crate::InfraError;

/// Size of generated RSA keys; API.md §2 asks for at least 2048 bits.
const RSA_BITS: u32 = 2048;
/// The smallest RSA modulus we sign or verify with, here and in a JWKS.
pub(super) const MIN_RSA_BITS: u32 = 2048;
/// Validity written into generated certificates. Nothing checks it yet: when a key stops
/// signing and verifying is the business of key rotation, not of the certificate.
const CERT_VALIDITY_DAYS: i64 = 3650;
const CERT_COMMON_NAME: &str = "Tollgate token signing key";

/// A fresh key of `algorithm` and a self-signed certificate for it, valid from `now`.
pub(crate) fn new_pair(
    now: DateTime<Utc>,
    algorithm: SigningAlgorithm,
) -> Result<(PKey<Private>, X509), InfraError> {
    let key = match algorithm {
        SigningAlgorithm::Rs512 => PKey::from_rsa(Rsa::generate(RSA_BITS)?)?,
        SigningAlgorithm::Es256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
            // OpenSSL writes a named curve (not explicit parameters) by default.
            PKey::from_ec_key(EcKey::generate(&group)?)?
        }
        SigningAlgorithm::EdDsa => PKey::generate_ed25519()?,
    };

    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, CERT_COMMON_NAME)?;
    let name = name.build();
    // 127 random bits: unique, and positive without a leading zero byte (RFC 5280 §4.1.2.2).
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let not_after = now
        .checked_add_signed(Duration::days(CERT_VALIDITY_DAYS))
        .ok_or_else(|| InfraError::Key("creation time out of range".into()))?;

    let mut cert = X509Builder::new()?;
    cert.set_version(2)?;
    cert.set_serial_number(&*serial.to_asn1_integer()?)?;
    cert.set_subject_name(&name)?;
    cert.set_issuer_name(&name)?;
    cert.set_not_before(&*Asn1Time::from_unix(now.timestamp())?)?;
    cert.set_not_after(&*Asn1Time::from_unix(not_after.timestamp())?)?;
    cert.set_pubkey(&key)?;
    cert.append_extension(BasicConstraints::new().critical().build()?)?;
    cert.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
    let ski = SubjectKeyIdentifier::new().build(&cert.x509v3_context(None, None))?;
    cert.append_extension(ski)?;
    // Ed25519 signs the message itself (no separate digest).
    let digest = match algorithm {
        SigningAlgorithm::EdDsa => MessageDigest::null(),
        _ => MessageDigest::sha256(),
    };
    cert.sign(&key, digest)?;
    Ok((key, cert.build()))
}

/// The algorithm a key is for: RSA of at least 2048 bits, P-256 or Ed25519; otherwise why not.
pub(super) fn algorithm_of<T: HasPublic>(key: &PKeyRef<T>) -> Result<SigningAlgorithm, String> {
    match key.id() {
        Id::RSA if key.bits() >= MIN_RSA_BITS => Ok(SigningAlgorithm::Rs512),
        Id::EC
            if key.ec_key().ok().and_then(|ec| ec.group().curve_name())
                == Some(Nid::X9_62_PRIME256V1) =>
        {
            Ok(SigningAlgorithm::Es256)
        }
        Id::ED25519 => Ok(SigningAlgorithm::EdDsa),
        _ => Err(format!(
            "not an RSA key of at least {MIN_RSA_BITS} bits, a P-256 key or an Ed25519 key"
        )),
    }
}

/// The uncompressed P-256 point of an EC key: `(x, y)`, 32 bytes each.
pub(super) fn ec_coordinates<T: HasPublic>(
    key: &PKeyRef<T>,
) -> Result<(Vec<u8>, Vec<u8>), InfraError> {
    let ec = key.ec_key()?;
    let mut ctx = BigNumContext::new()?;
    let point =
        ec.public_key()
            .to_bytes(ec.group(), PointConversionForm::UNCOMPRESSED, &mut ctx)?;
    match point.split_first() {
        Some((4, xy)) if xy.len() == 64 => {
            let (x, y) = xy.split_at(32);
            Ok((x.to_vec(), y.to_vec()))
        }
        _ => Err(InfraError::Key("not an uncompressed P-256 point".into())),
    }
}

/// The SHA-1 thumbprint of the certificate's DER, and the `kid` made of it (uppercase hex, 40
/// characters).
pub(super) fn thumbprint(cert: &X509) -> Result<([u8; 20], String), InfraError> {
    let digest = cert.digest(MessageDigest::sha1())?;
    let thumbprint: [u8; 20] = digest[..]
        .try_into()
        .map_err(|_| InfraError::Key("SHA-1 digest is not 20 bytes".into()))?;
    Ok((thumbprint, upper_hex(&thumbprint)))
}

/// A certificate time as a UTC instant.
pub(super) fn asn1_to_utc(t: &Asn1TimeRef) -> Result<DateTime<Utc>, InfraError> {
    let diff = Asn1Time::from_unix(0)?.diff(t)?;
    let secs = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| InfraError::Key("certificate time out of range".into()))
}

/// Uppercase hex, as the `kid` is written.
fn upper_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}
