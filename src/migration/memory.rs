//! The guest's memory as per-page state: a content image, a write counter per page and
//! KVM's dirty log, plus the bitmap type that migration engines keep their own sets in.
//!
//! What it models: which pages hold what (class and bytes come from a
//! [`MemoryImage`]), how often each page has been written since boot (`version`), and
//! which pages were written since the log was last synced (`log`, KVM's
//! `KVM_GET_DIRTY_LOG` bitmap). What it leaves out: the bytes a write changes (the content
//! of page `i` at version `v > 0` is implied by `(image, i, v)`; an engine that needs bytes
//! applies [`crate::compress::pages::dirty`] itself), huge pages, and memory hot-plug.
//!
//! Invariants: `version.len() == log.pages() == image.page_count()`; `log.count()` equals
//! the number of set bits; a page's version only grows, modulo 2³² (wrapping needs 2³²
//! writes to one page, 50 days at 1000 writes/s, and then only the digest is fooled).
//! Memory cost: 4 bytes of version plus 1/8 byte of log per page, 4.125 bytes per page in
//! all ([`GuestMemory::bytes_per_page`]).

use crate::compress::pages::{MemoryImage, MemoryProfile, PageClass, PAGE_SIZE};
use crate::engine::rng::splitmix64;

/// One bit per page, with a maintained count of set bits.
///
/// Per-page operations are a shift, a mask and a compare; whole-map operations
/// ([`or_assign`](Self::or_assign), [`clear_all`](Self::clear_all)) walk 64 pages per
/// word. Bits past `pages` in the last word are always clear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirtyBitmap {
    words: Vec<u64>,
    pages: u64,
    count: u64,
}

impl DirtyBitmap {
    /// A bitmap of `pages` pages, all set (`all_set`) or all clear.
    pub fn new(pages: u64, all_set: bool) -> Self {
        let n = pages.div_ceil(64) as usize;
        let mut b = DirtyBitmap {
            words: vec![0; n],
            pages,
            count: 0,
        };
        if all_set {
            b.set_all();
        }
        b
    }

    /// Number of pages the bitmap covers.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Number of set bits.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// True if no bit is set.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    #[inline]
    fn check(&self, i: u64) {
        assert!(i < self.pages, "page {i} of a {}-page bitmap", self.pages);
    }

    /// Sets bit `i`; returns true if it was clear before (the page is newly dirty).
    #[inline]
    pub fn set(&mut self, i: u64) -> bool {
        self.check(i);
        let w = &mut self.words[(i / 64) as usize];
        let m = 1u64 << (i % 64);
        let new = *w & m == 0;
        *w |= m;
        self.count += new as u64;
        new
    }

    /// Clears bit `i`; returns true if it was set before.
    #[inline]
    pub fn clear(&mut self, i: u64) -> bool {
        self.check(i);
        let w = &mut self.words[(i / 64) as usize];
        let m = 1u64 << (i % 64);
        let was = *w & m != 0;
        *w &= !m;
        self.count -= was as u64;
        was
    }

    /// Whether bit `i` is set.
    #[inline]
    pub fn test(&self, i: u64) -> bool {
        self.check(i);
        self.words[(i / 64) as usize] & (1u64 << (i % 64)) != 0
    }

    /// The first set bit at or after `from`, scanning a word at a time; `None` if there is
    /// none up to the end (the scan does not wrap around).
    pub fn next_set(&self, from: u64) -> Option<u64> {
        if from >= self.pages {
            return None;
        }
        let mut w = (from / 64) as usize;
        // Drop the bits below `from` in its own word.
        let mut word = self.words[w] & (!0u64 << (from % 64));
        loop {
            if word != 0 {
                // Tail bits past `pages` are never set, so this is < pages.
                return Some(w as u64 * 64 + word.trailing_zeros() as u64);
            }
            w += 1;
            if w == self.words.len() {
                return None;
            }
            word = self.words[w];
        }
    }

    /// `self |= other`, as QEMU's bitmap sync ORs KVM's dirty log into the migration
    /// bitmap. Both must cover the same number of pages.
    pub fn or_assign(&mut self, other: &DirtyBitmap) {
        assert_eq!(
            self.pages, other.pages,
            "or_assign of a {}-page bitmap into a {}-page one",
            other.pages, self.pages
        );
        let mut count = 0u64;
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= *b;
            count += a.count_ones() as u64;
        }
        self.count = count;
    }

    /// Clears every bit.
    pub fn clear_all(&mut self) {
        self.words.fill(0);
        self.count = 0;
    }

    /// Sets every bit (the tail of the last word stays clear).
    pub fn set_all(&mut self) {
        self.words.fill(!0);
        let tail = self.pages % 64;
        if tail != 0 {
            if let Some(last) = self.words.last_mut() {
                *last = (1u64 << tail) - 1;
            }
        }
        self.count = self.pages;
    }

    /// Heap bytes held (capacity, not length), for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.words.capacity() * std::mem::size_of::<u64>()
    }
}

/// The guest's memory: contents from a [`MemoryImage`], a write counter per page and KVM's
/// dirty log.
#[derive(Clone, Debug)]
pub struct GuestMemory {
    image: MemoryImage,
    /// Writes per page since boot (wrapping); 0 = the page as the image generated it.
    version: Vec<u32>,
    /// Pages written since the last [`take_log_into`](Self::take_log_into).
    log: DirtyBitmap,
}

impl GuestMemory {
    /// A guest of `pages` pages whose contents are drawn from `profile` with `seed`.
    /// Construction touches no page: classes are computed when asked for, and the version
    /// vector starts zeroed (a zeroed allocation the OS maps lazily), so a 16 GiB guest
    /// costs about 16.5 MiB and no per-page work. `profile` must be valid
    /// ([`MemoryProfile::validate`]; [`VmSpec::validate`] checks it); an invalid one is a
    /// caller bug and panics in [`MemoryImage::new`].
    pub fn new(pages: u64, profile: MemoryProfile, seed: u64) -> Self {
        GuestMemory {
            image: MemoryImage::new(profile, pages, seed),
            version: vec![0; pages as usize],
            log: DirtyBitmap::new(pages, false),
        }
    }

    /// Number of pages.
    pub fn pages(&self) -> u64 {
        self.image.page_count()
    }

    /// Size in bytes.
    pub fn bytes(&self) -> u64 {
        self.image.bytes()
    }

    /// The content image (classes and bytes of every page at version 0).
    pub fn image(&self) -> &MemoryImage {
        &self.image
    }

    /// The guest writes page `page`: its version goes up by one (wrapping) and its log bit
    /// is set. O(1), no allocation.
    #[inline]
    pub fn write(&mut self, page: u64) {
        let v = &mut self.version[page as usize];
        *v = v.wrapping_add(1);
        self.log.set(page);
    }

    /// How many times page `page` has been written (modulo 2³²).
    #[inline]
    pub fn version(&self, page: u64) -> u32 {
        self.version[page as usize]
    }

    /// Every page's version, indexed by page.
    pub fn versions(&self) -> &[u32] {
        &self.version
    }

    /// The class page `page` was generated as (one hash; see [`MemoryImage::class`]).
    pub fn class(&self, page: u64) -> PageClass {
        self.image.class(page)
    }

    /// Whether page `page` is all zeros now: generated as a zero page and never written (a
    /// written zero page holds data afterwards).
    pub fn is_zero(&self, page: u64) -> bool {
        self.version(page) == 0 && self.class(page) == PageClass::Zero
    }

    /// The dirty log: pages written since the last sync.
    pub fn log(&self) -> &DirtyBitmap {
        &self.log
    }

    /// QEMU's bitmap sync: ORs the dirty log into `into` (the engine's bitmap), clears the
    /// log and returns how many pages the log held.
    pub fn take_log_into(&mut self, into: &mut DirtyBitmap) -> u64 {
        let n = self.log.count();
        if n > 0 {
            into.or_assign(&self.log);
            self.log.clear_all();
        }
        n
    }

    /// A digest of the guest's state: [`digest_versions`] over every page's version. The
    /// content of page `i` at version `v` is a function of `(image, i, v)`, so given the
    /// image, two memories with equal digests hold the same bytes (up to a 2⁻⁶⁴ chance).
    pub fn state_digest(&self) -> u64 {
        digest_versions(&self.version)
    }

    /// The model's own memory cost in bytes per guest page: the capacity of the version
    /// vector plus the dirty log, divided by the page count (4.125 when the count is a
    /// multiple of 64).
    pub fn bytes_per_page(&self) -> f64 {
        let bytes = self.version.capacity() * std::mem::size_of::<u32>() + self.log.heap_bytes();
        bytes as f64 / self.pages().max(1) as f64
    }
}

/// The digest of a memory state given as one version per page, in page order. The source
/// uses it through [`GuestMemory::state_digest`]; a destination that records the version of
/// every page it receives in a `Vec<u32>` of the same length calls it directly, and the
/// migration is correct iff the two agree.
///
/// Each step maps the state through `s ↦ g(s ⊕ v)` with `g` a bijection of u64 (an odd
/// multiply and a xor-shift), so two version vectors of the same length that differ in
/// exactly one page always give different digests; the page count is mixed in first, and
/// the result is finalized with SplitMix64.
pub fn digest_versions(versions: &[u32]) -> u64 {
    let mut s = 0x6d69_6772_6174_696f ^ (versions.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for &v in versions {
        s = (s ^ v as u64).wrapping_mul(0x0000_0100_0000_01b3);
        s ^= s >> 29;
    }
    splitmix64(&mut s)
}

/// Device state (CPU registers, interrupt controllers, emulated and virtio devices) sent
/// during stop-and-copy, in bytes: 1 MiB.
///
/// **Assumption** (no stored source gives a measured size): per-vCPU architectural state
/// (registers, FPU/vector state, the local APIC page) is kilobytes, and each emulated or
/// virtio device's register and ring state is kilobytes too, so a typical x86 guest's
/// device state is in the hundreds of KB; 1 MiB leaves room for tens of vCPUs and devices.
/// Video RAM is migrated as a RAM block in QEMU, not as device state, and VFIO devices
/// (whose state can be far larger) are not modelled. At 1 Gb/s 1 MiB adds about 8 ms to
/// downtime, so the value matters only on slow links.
pub const DEFAULT_DEVICE_STATE_BYTES: u64 = 1 << 20;

/// What a VM is: memory size, vCPUs, device state and the memory's page-class mix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VmSpec {
    /// Guest memory in bytes; a whole, non-zero number of 4 KiB pages.
    pub memory_bytes: u64,
    /// Number of vCPUs (≥ 1).
    pub vcpus: u32,
    /// Device state sent during stop-and-copy, in bytes ([`DEFAULT_DEVICE_STATE_BYTES`]).
    pub device_state_bytes: u64,
    /// The page-class mix the memory is generated from.
    pub profile: MemoryProfile,
}

impl VmSpec {
    /// A VM of `memory_bytes` and `vcpus` with the default device state and profile.
    pub fn new(memory_bytes: u64, vcpus: u32) -> Self {
        VmSpec {
            memory_bytes,
            vcpus,
            device_state_bytes: DEFAULT_DEVICE_STATE_BYTES,
            profile: MemoryProfile::default(),
        }
    }

    /// Number of 4 KiB pages (meaningful once [`validate`](Self::validate) passed).
    pub fn pages(&self) -> u64 {
        self.memory_bytes / PAGE_SIZE as u64
    }

    /// Checks memory size (non-zero, a multiple of 4 KiB), vCPU count (≥ 1) and the profile;
    /// the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        let page = PAGE_SIZE as u64;
        if self.memory_bytes == 0 {
            return Err("`memory_bytes` is 0; a VM needs at least one 4 KiB page".into());
        }
        if !self.memory_bytes.is_multiple_of(page) {
            return Err(format!(
                "`memory_bytes` = {} is not a whole number of {page}-byte pages \
                 (nearest: {} or {})",
                self.memory_bytes,
                self.memory_bytes / page * page,
                (self.memory_bytes / page + 1) * page
            ));
        }
        if self.vcpus == 0 {
            return Err("`vcpus` is 0; a VM needs at least one vCPU".into());
        }
        self.profile
            .validate()
            .map_err(|e| format!("`profile`: {e}"))
    }

    /// A fresh guest memory for this VM, seeded with `seed`.
    pub fn memory(&self, seed: u64) -> Result<GuestMemory, String> {
        self.validate()?;
        Ok(GuestMemory::new(self.pages(), self.profile, seed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RngStreams;
    use rand::Rng;

    /// A bool per page: the obviously correct bitmap.
    struct Naive(Vec<bool>);

    impl Naive {
        fn count(&self) -> u64 {
            self.0.iter().filter(|&&b| b).count() as u64
        }
        fn next_set(&self, from: u64) -> Option<u64> {
            (from..self.0.len() as u64).find(|&i| self.0[i as usize])
        }
    }

    #[test]
    fn bitmap_matches_a_naive_reference_on_random_ops() {
        let mut rng = RngStreams::new(3).stream("migration/test/bitmap");
        // 1000 is not a multiple of 64, so the tail word is exercised.
        for pages in [1u64, 63, 64, 65, 1000] {
            let mut b = DirtyBitmap::new(pages, false);
            let mut n = Naive(vec![false; pages as usize]);
            for _ in 0..20_000 {
                let i = rng.random_range(0..pages);
                match rng.random_range(0..10) {
                    0..=4 => {
                        let newly = !n.0[i as usize];
                        n.0[i as usize] = true;
                        assert_eq!(b.set(i), newly, "set({i}) reports whether it was clear");
                    }
                    5..=8 => {
                        let was = n.0[i as usize];
                        n.0[i as usize] = false;
                        assert_eq!(b.clear(i), was, "clear({i}) reports whether it was set");
                    }
                    _ => {
                        let from = rng.random_range(0..=pages);
                        assert_eq!(b.next_set(from), n.next_set(from), "next_set({from})");
                    }
                }
                // The maintained count must equal a recount after every op.
                assert_eq!(b.count(), n.count());
                assert_eq!(b.test(i), n.0[i as usize]);
            }
            let other_bits: Vec<bool> = (0..pages).map(|_| rng.random_bool(0.3)).collect();
            let mut other = DirtyBitmap::new(pages, false);
            for (i, &on) in other_bits.iter().enumerate() {
                if on {
                    other.set(i as u64);
                }
            }
            b.or_assign(&other);
            for (x, &on) in n.0.iter_mut().zip(&other_bits) {
                *x |= on;
            }
            assert_eq!(b.count(), n.count(), "or_assign recounts");
            for i in 0..pages {
                assert_eq!(b.test(i), n.0[i as usize], "bit {i} after or_assign");
            }
        }
    }

    #[test]
    fn next_set_visits_exactly_the_set_bits() {
        let mut rng = RngStreams::new(5).stream("migration/test/scan");
        let pages = 10_000u64;
        let mut b = DirtyBitmap::new(pages, false);
        let mut want = std::collections::BTreeSet::new();
        // Sparse and dense regions: whole empty words and full ones.
        for i in 0..pages {
            let p = if (i / 640) % 2 == 0 { 0.01 } else { 0.9 };
            if rng.random_bool(p) {
                b.set(i);
                want.insert(i);
            }
        }
        let mut got = Vec::new();
        let mut at = 0;
        while let Some(i) = b.next_set(at) {
            got.push(i);
            at = i + 1;
        }
        assert_eq!(got, want.into_iter().collect::<Vec<_>>());
        assert_eq!(got.len() as u64, b.count());
    }

    #[test]
    fn all_set_bitmaps_keep_the_tail_clear() {
        for pages in [1u64, 64, 100, 129] {
            let mut b = DirtyBitmap::new(pages, true);
            assert_eq!(b.count(), pages);
            // The last set bit is the last page: a set tail bit would show up here.
            let mut last = None;
            let mut at = 0;
            while let Some(i) = b.next_set(at) {
                last = Some(i);
                at = i + 1;
            }
            assert_eq!(last, Some(pages - 1));
            b.clear_all();
            assert!(b.is_empty() && b.next_set(0).is_none());
            b.set_all();
            assert_eq!(b.count(), pages);
        }
    }

    #[test]
    fn writes_version_pages_and_the_log_syncs_like_qemu() {
        let mut mem = GuestMemory::new(4096, MemoryProfile::default(), 1);
        let zero = (0..4096)
            .find(|&i| mem.class(i) == PageClass::Zero)
            .expect("a quarter of pages are zero");
        assert!(mem.is_zero(zero));
        mem.write(zero);
        mem.write(zero);
        mem.write(7);
        assert_eq!(mem.version(zero), 2);
        assert!(!mem.is_zero(zero), "a written zero page holds data");
        assert_eq!(
            mem.class(zero),
            PageClass::Zero,
            "the class is as generated"
        );
        let mut engine = DirtyBitmap::new(4096, false);
        engine.set(100);
        let n = mem.take_log_into(&mut engine);
        // Two distinct pages were written (one twice): the log holds 2, the engine's
        // bitmap keeps its own page too.
        assert_eq!(n, if zero == 7 { 1 } else { 2 });
        assert!(engine.test(zero) && engine.test(7) && engine.test(100));
        assert!(mem.log().is_empty(), "sync clears the log");
        assert_eq!(mem.take_log_into(&mut engine), 0);
    }

    #[test]
    fn digest_tells_states_apart_and_a_destination_can_reproduce_it() {
        let mut src = GuestMemory::new(1000, MemoryProfile::default(), 9);
        let mut dst = vec![0u32; 1000];
        assert_eq!(src.state_digest(), digest_versions(&dst));
        for p in [3u64, 500, 999, 3] {
            src.write(p);
        }
        assert_ne!(src.state_digest(), digest_versions(&dst), "dst is behind");
        // The destination records the version each received page carried.
        for p in [3u64, 500, 999] {
            dst[p as usize] = src.version(p);
        }
        assert_eq!(src.state_digest(), digest_versions(&dst));
        assert_eq!(digest_versions(src.versions()), src.state_digest());
        // One page one version off (either way) must show.
        for p in 0..1000 {
            let mut d = dst.clone();
            d[p] = d[p].wrapping_add(1);
            assert_ne!(digest_versions(&d), src.state_digest(), "page {p}");
        }
        // Swapping two pages' versions must show too (the digest is order-fixed).
        let mut d = dst.clone();
        d.swap(3, 4);
        assert_ne!(digest_versions(&d), src.state_digest());
    }

    #[test]
    fn memory_costs_at_most_5_bytes_per_page() {
        let mem = GuestMemory::new((1u64 << 30) / PAGE_SIZE as u64, MemoryProfile::default(), 2);
        let b = mem.bytes_per_page();
        // 4 (u32 version) + 1/8 (log bit) = 4.125.
        assert!((4.125..=5.0).contains(&b), "{b} bytes per page");
    }

    #[test]
    fn a_16_gib_guest_is_cheap_to_create() {
        // 4 Mi pages. Construction only allocates zeroed memory; if it computed every
        // page's class (a hash each) or touched the pages, this test would be slow.
        let spec = VmSpec::new(16 << 30, 8);
        let mut mem = spec.memory(4).expect("valid spec");
        assert_eq!(mem.pages(), 4 << 20);
        assert_eq!(mem.bytes(), 16 << 30);
        assert!(mem.bytes_per_page() <= 5.0);
        let last = mem.pages() - 1;
        mem.write(last);
        assert_eq!(mem.version(last), 1);
        let _ = mem.class(last);
        assert_eq!(mem.log().count(), 1);
    }

    #[test]
    fn vm_spec_validation_names_the_key() {
        let ok = VmSpec::new(1 << 30, 2);
        assert!(ok.validate().is_ok());
        assert_eq!(ok.pages(), 262_144);
        let e = VmSpec::new(0, 2).validate().unwrap_err();
        assert!(e.contains("`memory_bytes` is 0"), "{e}");
        let e = VmSpec::new(4096 * 10 + 1, 2).validate().unwrap_err();
        assert!(
            e.contains("`memory_bytes`") && e.contains("40960 or 45056"),
            "names the nearest valid sizes: {e}"
        );
        let e = VmSpec::new(1 << 30, 0).validate().unwrap_err();
        assert!(e.contains("`vcpus`"), "{e}");
        let mut bad = ok;
        bad.profile.shares[0] = 0.5;
        let e = bad.validate().unwrap_err();
        assert!(e.contains("`profile`"), "{e}");
        assert!(bad.memory(1).is_err(), "memory() validates first");
    }
}
