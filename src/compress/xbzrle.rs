//! XBZRLE: delta of a dirtied page against its previously sent version.
//!
//! What it models: QEMU's XBZRLE (`docs/xbzrle.txt`; Svärd et al., VEE 2011, in
//! validation-refs §5). The sender keeps a cache of pages it sent; when a page is dirty
//! again, it XORs old and new, and encodes the result as alternating runs:
//!
//! ```text
//! page  = zrun nzrun | zrun nzrun page
//! zrun  = length                 (bytes unchanged)
//! nzrun = length byte...         (bytes changed, followed by their new values)
//! length = ULEB128
//! ```
//!
//! As in QEMU's `xbzrle_encode_buffer`, a trailing zero run is not written, an unchanged
//! page encodes to zero bytes (QEMU then sends nothing), and the encoder gives up
//! (`None`) as soon as the output would exceed `limit` (QEMU passes the page size, and
//! sends the page normally instead). The non-zero runs carry the new bytes, as QEMU's code
//! does, which is the same length as carrying the XOR. What it leaves out: the cache
//! itself (its size and eviction decide whether an old version exists at all; that is the
//! migration engine's state) and QEMU's word-at-a-time scan (a speed detail, same output).

use super::pages::PAGE_SIZE;
use super::CompressError;

/// Bytes of QEMU's per-page XBZRLE header after the page header: a 1-byte encoding flag
/// and a 2-byte big-endian length (`save_xbzrle_page` in QEMU's `migration/ram.c`).
pub const XBZRLE_HEADER_BYTES: usize = 3;

fn uleb128_put(out: &mut Vec<u8>, mut v: usize) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn uleb128_len(v: usize) -> usize {
    let bits = usize::BITS - v.leading_zeros();
    (bits.max(1) as usize).div_ceil(7)
}

fn uleb128_get(input: &[u8], pos: &mut usize) -> Result<usize, CompressError> {
    let mut v: usize = 0;
    for shift in (0..).step_by(7).take(5) {
        let b = *input
            .get(*pos)
            .ok_or_else(|| CompressError::Xbzrle(format!("length cut off at byte {}", *pos)))?;
        *pos += 1;
        v |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(CompressError::Xbzrle(format!(
        "length longer than 5 bytes at byte {}",
        *pos
    )))
}

/// Encodes `new` against `old` (equal lengths) into `out` (cleared first). Returns the
/// encoded length (0: unchanged), or `None` if it would exceed `limit` bytes.
pub fn encode(old: &[u8], new: &[u8], out: &mut Vec<u8>, limit: usize) -> Option<usize> {
    assert_eq!(old.len(), new.len(), "xbzrle encodes equal-length buffers");
    out.clear();
    let n = new.len();
    let mut i = 0;
    loop {
        let zstart = i;
        while i < n && old[i] == new[i] {
            i += 1;
        }
        if i == n {
            // Trailing zero run (or unchanged page): not written.
            return Some(out.len());
        }
        let zlen = i - zstart;
        let nzstart = i;
        while i < n && old[i] != new[i] {
            i += 1;
        }
        let nzlen = i - nzstart;
        if out.len() + uleb128_len(zlen) + uleb128_len(nzlen) + nzlen > limit {
            return None;
        }
        uleb128_put(out, zlen);
        uleb128_put(out, nzlen);
        out.extend_from_slice(&new[nzstart..i]);
    }
}

/// Applies `encoded` to `page`, which must hold the old version; afterwards it holds the
/// new one. Errors on malformed input (runs past the page end, truncated data).
pub fn decode(encoded: &[u8], page: &mut [u8]) -> Result<(), CompressError> {
    let mut pos = 0;
    let mut d = 0;
    while pos < encoded.len() {
        let z = uleb128_get(encoded, &mut pos)?;
        let nz = uleb128_get(encoded, &mut pos)?;
        if nz == 0 {
            return Err(CompressError::Xbzrle(format!(
                "empty non-zero run at byte {pos}"
            )));
        }
        d += z;
        if d + nz > page.len() || pos + nz > encoded.len() {
            return Err(CompressError::Xbzrle(format!(
                "run of {nz} bytes at page offset {d} (page {}, data {} of {} bytes)",
                page.len(),
                pos,
                encoded.len()
            )));
        }
        page[d..d + nz].copy_from_slice(&encoded[pos..pos + nz]);
        pos += nz;
        d += nz;
    }
    Ok(())
}

/// Whether a page is all zero (QEMU's `buffer_is_zero`, which migration checks before
/// anything else and sends as a header only).
pub fn is_zero(page: &[u8]) -> bool {
    // Compare 8 bytes at a time; the compiler vectorises this.
    let (chunks, rest) = page.split_at(page.len() / 8 * 8);
    chunks
        .chunks_exact(8)
        .all(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")) == 0)
        && rest.iter().all(|&b| b == 0)
}

/// The encoded size of `new` against `old` with QEMU's limit (one page), or `None` when
/// QEMU would send the page normally.
pub fn encoded_len(old: &[u8], new: &[u8], scratch: &mut Vec<u8>) -> Option<usize> {
    encode(old, new, scratch, PAGE_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uleb128_matches_the_standard_examples() {
        // 624485 = 0xE5 0x8E 0x26 is the textbook ULEB128 example.
        let mut v = Vec::new();
        uleb128_put(&mut v, 624_485);
        assert_eq!(v, [0xe5, 0x8e, 0x26]);
        assert_eq!(uleb128_len(624_485), 3);
        assert_eq!(uleb128_len(0), 1);
        assert_eq!(uleb128_len(127), 1);
        assert_eq!(uleb128_len(128), 2);
        let mut pos = 0;
        assert_eq!(uleb128_get(&v, &mut pos).unwrap(), 624_485);
    }

    #[test]
    fn hand_worked_example() {
        // old 00 00 00 00 00 00, new 00 07 08 00 00 09:
        // zrun 1, nzrun 2 [07 08], zrun 2, nzrun 1 [09] → 01 02 07 08 02 01 09.
        let old = [0u8; 6];
        let new = [0, 7, 8, 0, 0, 9];
        let mut out = Vec::new();
        assert_eq!(encode(&old, &new, &mut out, 100), Some(7));
        assert_eq!(out, [1, 2, 7, 8, 2, 1, 9]);
        let mut p = old;
        decode(&out, &mut p).unwrap();
        assert_eq!(p, new);
        // The limit is exclusive of nothing: 6 bytes cannot hold the 7-byte encoding.
        assert_eq!(encode(&old, &new, &mut out, 6), None);
        // Unchanged → empty encoding.
        assert_eq!(encode(&new, &new, &mut out, 100), Some(0));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let mut p = [0u8; 16];
        assert!(decode(&[0, 20, 1, 2], &mut p).is_err(), "run past the data");
        assert!(
            decode(&[15, 5, 1, 2, 3, 4, 5], &mut p).is_err(),
            "run past the page"
        );
        assert!(decode(&[0x80], &mut p).is_err(), "cut-off length");
    }

    #[test]
    fn zero_check() {
        let mut p = [0u8; PAGE_SIZE];
        assert!(is_zero(&p));
        p[PAGE_SIZE - 1] = 1;
        assert!(!is_zero(&p), "the last byte counts");
        p[PAGE_SIZE - 1] = 0;
        p[0] = 1;
        assert!(!is_zero(&p), "the first byte counts");
    }
}
