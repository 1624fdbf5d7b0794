//! The CPU's dropout mask ([`crate::fused::Mask`]) rebuilt inside a kernel, bit for bit: row
//! `r`'s seed is the high half of `mix64(key ^ mix64(r))` and element `j` of the row is kept
//! (times the mask's scale) when `hash32(seed + j * WEYL) >= threshold`. WGSL has no 64-bit
//! integers, so `mix64` runs on pairs of `u32` (high, low), its products through `mul_hi`.
//! The same key gives the same mask on either device, so the backward kernels regenerate
//! their forward's mask instead of storing a `[B, H, T, T]` tensor, and a test compares the
//! GPU's mask with the CPU's.

use cubecl::prelude::*;

/// A 64-bit word as two 32-bit halves.
#[derive(CubeType, Clone, Copy)]
pub struct Word {
    hi: u32,
    lo: u32,
}

#[cube]
fn word(hi: u32, lo: u32) -> Word {
    Word { hi, lo }
}

#[cube]
fn xor(a: Word, b: Word) -> Word {
    word(a.hi ^ b.hi, a.lo ^ b.lo)
}

/// `a >> n` for `0 < n < 32`.
#[cube]
fn shr(a: Word, #[comptime] n: u32) -> Word {
    word(a.hi >> n, (a.lo >> n) | (a.hi << (32 - n)))
}

/// `a ^ (a >> n)`.
#[cube]
fn xorshift(a: Word, #[comptime] n: u32) -> Word {
    xor(a, shr(a, n))
}

/// `a + b` modulo 2^64.
#[cube]
fn add(a: Word, b: Word) -> Word {
    let lo = a.lo + b.lo;
    let carry = select(lo < a.lo, 1u32, 0u32);
    word(a.hi + b.hi + carry, lo)
}

/// `a * b` modulo 2^64.
#[cube]
fn mul(a: Word, b: Word) -> Word {
    let lo = a.lo * b.lo;
    let hi = u32::mul_hi(a.lo, b.lo) + a.lo * b.hi + a.hi * b.lo;
    word(hi, lo)
}

/// SplitMix64's finaliser, as `gptsweep_core::rng::mix64`.
#[cube]
fn mix64(z: Word) -> Word {
    let z = add(z, word(0x9E37_79B9u32, 0x7F4A_7C15u32));
    let z = mul(xorshift(z, 30u32), word(0xBF58_476Du32, 0x1CE4_E5B9u32));
    let z = mul(xorshift(z, 27u32), word(0x94D0_49BBu32, 0x1331_11EBu32));
    xorshift(z, 31u32)
}

/// The seed of mask row `row` under the key `(key_hi, key_lo)`.
#[cube]
pub fn row_seed(key_hi: u32, key_lo: u32, row: u32) -> u32 {
    let inner = mix64(word(0u32, row));
    mix64(xor(word(key_hi, key_lo), inner)).hi
}

/// The multiplier of element `col` of the row seeded `seed`: `scale` when kept, else zero.
#[cube]
pub fn keep<F: Float>(seed: u32, col: u32, threshold: u32, scale: F) -> F {
    let mut x = seed + col * 0x9E37_79B9u32;
    x ^= x >> 16;
    x *= 0x7feb_352du32;
    x ^= x >> 15;
    x *= 0x846c_a68bu32;
    x ^= x >> 16;
    select(x >= threshold, scale, F::new(0.0))
}
