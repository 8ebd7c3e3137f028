//! The range check every ES256 signature passes before any back end sees it.

/// The order `n` of P-256's base point (SEC 2 §2.4.2), big-endian.
const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa,
    0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// Whether `r` and `s` of a raw `r || s` signature are both in `[1, n-1]`
/// (FIPS 186-5 §6.4.2 step 1): r = s = 0 verifies against any message in
/// implementations that skip this (CVE-2022-21449).
pub fn in_range(signature: &[u8; 64]) -> bool {
    let scalar_ok = |v: &[u8]| v.iter().any(|&b| b != 0) && v < &N[..];
    scalar_ok(&signature[..32]) && scalar_ok(&signature[32..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_outside_one_to_n_minus_one_are_out_of_range() {
        let mut sig = [1u8; 64];
        assert!(in_range(&sig));
        sig[..32].fill(0);
        assert!(!in_range(&sig), "r = 0");
        sig[..32].copy_from_slice(&N);
        assert!(!in_range(&sig), "r = n");
        sig[..32].fill(0xff);
        assert!(!in_range(&sig), "r > n");
        let mut n_minus_one = N;
        n_minus_one[31] -= 1;
        sig[..32].copy_from_slice(&n_minus_one);
        assert!(in_range(&sig), "r = n - 1");
        sig[32..].fill(0);
        assert!(!in_range(&sig), "s = 0");
    }
}
