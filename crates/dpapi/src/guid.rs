//! GUIDs: the binary Windows layout of [`ntsec::Guid`], and random version-4 GUIDs.

use ntsec::Guid;
use rand_core::TryCryptoRng;

use crate::error::Result;
use crate::rng;

/// A random (version 4, RFC 4122 variant) GUID, as `CoCreateGuid` makes them.
pub fn random<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Guid> {
    let mut b: [u8; 16] = rng::array(rng)?;
    // Data3 is little-endian: its high nibble (the version) is in byte 7.
    b[7] = (b[7] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Ok(Guid(b))
}
