//! Noisy variants of register addresses, as real records carry them.

use crate::AddressParts;

/// A free-text variant of `parts` with realistic noise. Placeholder: returns the canonical
/// label until the noise model lands.
pub fn noisy_label<R: rand::Rng>(parts: &AddressParts, _rng: &mut R) -> String {
    parts.canonical_label()
}
