//! Deterministic identifiers (commit SHAs, digests, crumbs) derived from the
//! estate seed, so two runs with the same seed show the same estate.

/// One step of SplitMix64: a tiny, well-mixed hash for reproducible ids.
pub(crate) fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over the parts, then mixed with the seed.
pub(crate) fn hash(seed: u64, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    splitmix64(h ^ splitmix64(seed))
}

/// `len` lowercase hex characters derived from the seed and parts.
pub(crate) fn hex(seed: u64, parts: &[&str], len: usize) -> String {
    let mut out = String::with_capacity(len + 16);
    let mut state = hash(seed, parts);
    while out.len() < len {
        state = splitmix64(state);
        out.push_str(&format!("{state:016x}"));
    }
    out.truncate(len);
    out
}

/// A 40-hex git SHA.
pub(crate) fn sha(seed: u64, parts: &[&str]) -> String {
    hex(seed, parts, 40)
}

/// A `sha256:` image digest.
pub(crate) fn digest(seed: u64, parts: &[&str]) -> String {
    format!("sha256:{}", hex(seed, parts, 64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_shaped() {
        let a = sha(7, &["payments-api", "12"]);
        assert_eq!(a.len(), 40);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(a, sha(7, &["payments-api", "12"]));
        assert_ne!(a, sha(8, &["payments-api", "12"]));
        assert_ne!(a, sha(7, &["payments-api", "13"]));
        assert_eq!(digest(1, &["x"]).len(), 71);
    }
}
