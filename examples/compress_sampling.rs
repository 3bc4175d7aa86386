//! Full vs sampled encoded size of a generated guest image, with wall times.
//!
//! `cargo run --release --example compress_sampling -- [MiB] [codec] [pages_per_class]`
//! (default 1024 MiB, lz4, 1024). Wall time is measured here for the report only; it never
//! enters a simulation.

use dwcp_sim::compress::codec::{Codec, Dictionary, MAX_DICTIONARY_BYTES};
use dwcp_sim::compress::pages::{MemoryImage, MemoryProfile, PageClass, PAGE_SIZE};
use dwcp_sim::compress::sampling::{estimate_full, estimate_sampled, SampleSpec};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mib: u64 = args.first().map_or(Ok(1024), |s| s.parse())?;
    let codec: Codec = args.get(1).map_or(Ok(Codec::Lz4), |s| s.parse())?;
    let k: usize = args.get(2).map_or(Ok(1024), |s| s.parse())?;
    let pages = mib * 1024 * 1024 / PAGE_SIZE as u64;
    let image = MemoryImage::new(MemoryProfile::default(), pages, 42);
    let dict = if codec.needs_dictionary() {
        Some(Dictionary::train_from_image(
            &image,
            1000,
            MAX_DICTIONARY_BYTES,
        )?)
    } else {
        None
    };
    let spec = SampleSpec {
        pages_per_class: k,
        seed: 0,
    };
    let t = Instant::now();
    let sampled = estimate_sampled(&image, codec, dict.as_ref(), spec)?;
    let t_sampled = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let full = estimate_full(&image, codec, dict.as_ref())?;
    let t_full = t.elapsed().as_secs_f64();
    println!("image {mib} MiB ({pages} pages), codec {codec}, {k} sampled pages per class");
    println!("class       pages   full MB   sampled MB   error");
    for c in PageClass::ALL {
        let (f, s) = (&full.per_class[c.index()], &sampled.per_class[c.index()]);
        println!(
            "{:9} {:7} {:9.3} {:12.3} {:+7.3}%",
            c.name(),
            f.pages,
            f.output_bytes / 1e6,
            s.output_bytes / 1e6,
            if f.output_bytes > 0.0 {
                (s.output_bytes / f.output_bytes - 1.0) * 100.0
            } else {
                0.0
            }
        );
    }
    let err = (sampled.ratio() - full.ratio()) / full.ratio();
    println!(
        "full: ratio {:.4} in {:.2} s wall; sampled: ratio {:.4} in {:.2} s wall; ratio error {:+.3}%",
        full.ratio(),
        t_full,
        sampled.ratio(),
        t_sampled,
        err * 100.0
    );
    Ok(())
}
