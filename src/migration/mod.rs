//! Live VM migration: the guest as migration sees it (memory as per-page state, the process
//! that dirties it) and the engines that move it.
//!
//! A migration engine needs to know, for every page, whether it changed since it was last
//! sent and what it holds now, for guests of up to 16 GiB (4 Mi pages) and several at once.
//! So memory is not stored: contents come from a deterministic [`MemoryImage`] (any page can
//! be generated alone), and the per-page state is a 32-bit write counter plus bits in
//! bitmaps, about 4.25 bytes per page with an engine's bitmap ([`GuestMemory`],
//! [`DirtyBitmap`]). The guest's writes come from a [`Dirtier`]: a rate of page writes into a
//! scattered working set with a hot part, throttled by auto-converge, stopped during
//! stop-and-copy. Presets with their sources are [`Workload`].
//!
//! Data flow: [`VmSpec`] → [`GuestMemory`]; [`Dirtier::advance`] writes pages (versions and
//! KVM's dirty log); an engine calls [`GuestMemory::take_log_into`] to sync the log into its
//! own bitmap (QEMU's bitmap sync), sends pages, and the destination records the versions it
//! received; [`digest_versions`] on both ends says whether they hold the same memory.
//!
//! The engines: [`precopy`] (QEMU's rule and the other profiles' stop rules on the same
//! mechanism) and [`postcopy`] (post-copy and hybrid: the VM resumes on the destination and
//! its missing pages fault over the network while a push sends the rest; the destination's
//! writes go through [`PageSink`]); the platforms as sets of engine options: [`profile`].
//! Left out: device DMA writes, huge pages, balloons. Randomness: the dirtier draws only from the stream its caller passes
//! (e.g. `"vm/<id>/dirty"`); memory contents use the `"compress/pages/..."` streams of the
//! image's seed.
//!
//! [`MemoryImage`]: crate::compress::pages::MemoryImage

#![warn(missing_docs)]

pub mod dirty;
pub mod encoding;
pub mod memory;
pub mod postcopy;
pub mod precopy;
pub mod profile;

pub use dirty::{Dirtier, DirtyConfig, PageSink, Workload, MAX_RATE_PAGES_PER_S};
pub use memory::{digest_versions, DirtyBitmap, GuestMemory, VmSpec, DEFAULT_DEVICE_STATE_BYTES};
