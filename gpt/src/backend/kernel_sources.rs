//! A fingerprint of our own GPU kernels' source, for the kernel caches. cubecl keys a compiled
//! kernel by its type's name and compile-time arguments, not by its body, and burn's and
//! cubecl's kernels are fixed by their versions; ours change between builds of one gptsweep
//! version. Without this, a node (or the fleet's cache) would hand a changed kernel the
//! compiled code of its previous body: wrong results, silently.

/// FNV-1a over the sources of every cubecl kernel of ours, and what they include.
pub const OUR_KERNELS: u64 = fnv1a(&[
    include_str!("../gpu_attention/kernel.rs"),
    include_str!("../gpu_attention/mask_hash.rs"),
    include_str!("../fused/cube/embedding_kernel.rs"),
]);

/// The 64-bit FNV-1a hash of `parts`, one after the other, at compile time.
const fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut p = 0;
    while p < parts.len() {
        let bytes = parts[p].as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            hash ^= bytes[i] as u64;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
            i += 1;
        }
        p += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_follows_every_byte() {
        // FNV-1a's published value for "a", and a change of one byte changes the hash.
        assert_eq!(fnv1a(&["a"]), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(fnv1a(&["kernel a"]), fnv1a(&["kernel b"]));
        assert_eq!(fnv1a(&["ab", "c"]), fnv1a(&["abc"]));
        assert_ne!(OUR_KERNELS, fnv1a(&[]));
    }
}
