//! Live migration over the packet network, checked against closed forms and QEMU's
//! documented behaviour (validation-refs §1c, §1d). Every run also checks that the
//! destination ends with every page's last version (`consistent`).

mod common;

use common::migration::{experiment, get, run, FIXED, R_1G};
use dwcp_sim::config::LoadedExperiment;
use dwcp_sim::metrics::RunRecords;
use dwcp_sim::scenario;

/// The checks every migration that completed must pass.
fn assert_sound(r: &RunRecords, vm: &str) {
    assert_eq!(get(r, vm, "completed"), 1.0, "{vm} completed");
    assert_eq!(
        get(r, vm, "consistent"),
        1.0,
        "{vm}: destination holds every page's last version"
    );
}

/// One stream delivers in order: no page version can overtake an older one.
fn assert_in_order(r: &RunRecords, vm: &str) {
    assert_eq!(
        get(r, vm, "stale_arrivals"),
        0.0,
        "{vm}: one stream, in order"
    );
}

/// The resume cost alone: with one stream's 4 MiB send buffer (35 ms of data at R) still
/// draining when the VM stops, the 20 ms switchover overlaps the transfer, so only the
/// destination's 9 ms resume adds to the wire time.
const RESUME: f64 = 0.009;

/// A VM that dirties nothing, not rate-limited, over one TCP stream at 1 Gbit/s: every page
/// goes once, zero pages as 9-byte headers, others as 4104 bytes, and the time is
/// wire bytes / R plus the resume cost. Measured: 1.6913 s − 9 ms = 1.6823 s against
/// 202 883 080 B / 120.67 MB/s = 1.6813 s (+0.06%); ±1% allowed.
#[test]
fn an_idle_vm_migrates_in_its_wire_bytes_over_the_rate() {
    let r = run(&experiment(
        "idle",
        "1Gbps",
        "10s",
        r#"[[migrations]]
name = "vm"
src = "h0"
dst = "h1"
memory = "256MiB"
dirty = { rate = 0.0 }
options = { max_bandwidth = "none" }"#,
    ));
    assert_sound(&r, "vm");
    assert_in_order(&r, "vm");
    let pages = 65_536.0;
    assert_eq!(get(&r, "vm", "pages_sent"), pages, "each page exactly once");
    let full = get(&r, "vm", "full_page_bytes");
    let zero = get(&r, "vm", "zero_page_bytes");
    assert_eq!(full % 4104.0, 0.0);
    assert_eq!(zero % 9.0, 0.0);
    assert_eq!(full / 4104.0 + zero / 9.0, pages);
    let wire = get(&r, "vm", "wire_bytes");
    assert_eq!(wire, full + zero + get(&r, "vm", "device_bytes"));
    let t = get(&r, "vm", "total_time") - RESUME;
    let expected = wire / R_1G;
    assert!(
        (t / expected - 1.0).abs() < 0.01,
        "{t} s vs {expected} s closed form"
    );
}

/// Uniform dirtying over all memory, no zero pages, no rate limit, a sync after every full
/// pass and the stop once remaining ≤ R × downtime limit: the geometric model (validation-
/// refs §1d). M = 65 536 pages, R = 120.67 MB/s / 4104 B = 29 402 pages/s, D = 2965
/// writes/s, so λ = D/R = 0.101; V_thd = R × 10 ms = 296 pages; n = ⌈log_λ(V_thd/M)⌉ =
/// ⌈2.35⌉ = 3; V_mig = M(1 − λ^(n+1))/(1 − λ) = 72 810 pages; T = V_mig × 4104 B / R plus
/// the device state, plus the resume cost. Measured: 72 412 pages (−0.5%; repeated writes
/// to a page within a pass count once, W(1 − e^(−λ)) = 0.095 M instead of 0.1 M) and
/// 2.4724 s against 2.4850 s (−0.5%); ±2% allowed.
#[test]
fn uniform_dirtying_follows_the_geometric_model() {
    let r = run(&experiment(
        "geometric",
        "1Gbps",
        "10s",
        r#"[[migrations]]
name = "vm"
src = "h0"
dst = "h1"
memory = "256MiB"
memory_profile = { zero = 0.0, duplicate = 0.0, code = 0.0, heap = 1.0, text = 0.0, random = 0.0 }
dirty = { rate = 2965.0, working_set = "256MiB", hot_fraction = 0.0, hot_share = 0.0 }
options = { max_bandwidth = "none", stop_rule = "dirty-fraction", dirty_fraction = 0.0, downtime_limit = "10ms" }"#,
    ));
    assert_sound(&r, "vm");
    assert_in_order(&r, "vm");
    let (m, lambda, n) = (65_536.0f64, 2965.0 / (R_1G / 4104.0), 3);
    let v_mig = m * (1.0 - lambda.powi(n + 1)) / (1.0 - lambda);
    let pages = get(&r, "vm", "pages_sent");
    assert!((pages / v_mig - 1.0).abs() < 0.02, "{pages} vs {v_mig}");
    assert_eq!(get(&r, "vm", "passes"), n as f64);
    let t = get(&r, "vm", "total_time") - RESUME;
    let expected = (v_mig * 4104.0 + get(&r, "vm", "device_bytes")) / R_1G;
    assert!((t / expected - 1.0).abs() < 0.02, "{t} vs {expected}");
}

/// The same guest with its writes confined to a 32 MiB working set, three times the write
/// rate (λ = 0.3 uncapped) and QEMU's rule: less than the geometric model, as on real
/// QEMU. The model gives n = ⌈log_0.3(296/65 536)⌉ = 5 and V_mig = M(1 − 0.3⁶)/0.7 =
/// 93 553 pages; the cap holds each pass's dirty set to 8192 pages (7449 distinct after
/// pass 1's 19 661 writes: 8192 × (1 − e^(−2.4))) and QEMU re-syncs only below the
/// threshold, so the run sends 75 617 pages, 19% fewer. Asserted: below the model, above
/// one copy of memory plus one working set.
#[test]
fn a_working_set_cap_keeps_qemu_below_the_geometric_model() {
    let r = run(&experiment(
        "capped",
        "1Gbps",
        "10s",
        r#"[[migrations]]
name = "vm"
src = "h0"
dst = "h1"
memory = "256MiB"
memory_profile = { zero = 0.0, duplicate = 0.0, code = 0.0, heap = 1.0, text = 0.0, random = 0.0 }
dirty = { rate = 8894.0, working_set = "32MiB", hot_fraction = 0.0, hot_share = 0.0 }
options = { max_bandwidth = "none", downtime_limit = "10ms" }"#,
    ));
    assert_sound(&r, "vm");
    let m = 65_536.0f64;
    let lambda: f64 = 8894.0 / (R_1G / 4104.0);
    let n = ((296.0 / m).ln() / lambda.ln()).ceil() as i32;
    let v_mig = m * (1.0 - lambda.powi(n + 1)) / (1.0 - lambda);
    let pages = get(&r, "vm", "pages_sent");
    assert!(
        pages < 0.9 * v_mig,
        "{pages} well below the model's {v_mig}"
    );
    assert!(
        pages > m + 0.5 * 8192.0,
        "{pages}: memory once and most of the working set"
    );
    for k in 1..get(&r, "vm", "passes") as usize {
        let b = get(&r, "vm", &format!("dirty_bytes_pass_{k}"));
        assert!(
            b <= 32.0 * 1048576.0,
            "pass {k}: {b} B within the 32 MiB working set"
        );
    }
}

/// Stock QEMU defaults on an idle 8 GiB guest over 10 Gbit/s: iteration is held to
/// 128 MiB/s, so the time is at least the non-zero pages sent while iterating over
/// 128 MiB/s (validation-refs §1c: "≥ 64 s if no pages are skipped"; zero pages are 9-byte
/// headers, and QEMU lifts the limit for the last ~threshold = 128 MiB/s × 300 ms ≈ 40 MB,
/// which then goes at line rate). Measured 49.07 s for 1 614 144 non-zero pages (77%:
/// 64 s × 0.77 = 49.3 s, less the 0.27 s the final copy saves). The downtime is far below
/// the 300 ms limit: 40 MB at 10 Gbit/s is 33 ms, plus the 29 ms fixed costs.
#[test]
fn stock_qemu_takes_its_rate_limit_and_stops_far_below_its_downtime_limit() {
    let r = run(&experiment(
        "kvm-idle-8g",
        "10Gbps",
        "60s",
        r#"[[migrations]]
name = "vm"
src = "h0"
dst = "h1"
memory = "8GiB"
workload = "idle"
profile = "kvm""#,
    ));
    assert_sound(&r, "vm");
    let limit = (128u64 << 20) as f64;
    let final_bytes = get(&r, "vm", "final_pages") * 4104.0 + get(&r, "vm", "device_bytes");
    let iterated = get(&r, "vm", "wire_bytes") - final_bytes;
    let t = get(&r, "vm", "total_time");
    // Each 100 ms slot's quota may go out at the slot's start, so the last, partial slot
    // can finish up to one slot early.
    assert!(
        t >= iterated / limit - 0.1,
        "{t} s ≥ {} s − 0.1 s",
        iterated / limit
    );
    assert!(
        t < iterated / limit + 1.0,
        "{t} s: the limit, not the link, sets the pace"
    );
    let nonzero = get(&r, "vm", "full_page_bytes") / 4104.0 * 4096.0;
    assert!(t > 0.95 * nonzero / limit, "≈ 64 s × the non-zero share");
    let d = get(&r, "vm", "downtime");
    assert!(d < 0.1, "downtime {d} s far below the 300 ms limit");
    assert!(d > FIXED, "downtime {d} s includes the fixed costs");
}

/// Dirtying far faster than a 100 Mbit/s link can send (the memory-intensive preset
/// rewrites most of its 115 MiB working set every second; the link moves 12 MB/s), no
/// convergence feature, a 20 s time limit: the migration gives up after its first passes
/// and says so instead of running forever.
#[test]
fn non_convergence_is_reported_not_hidden() {
    let r = run(&experiment(
        "no-converge",
        "100Mbps",
        "30s",
        r#"[[migrations]]
name = "vm"
src = "h0"
dst = "h1"
memory = "128MiB"
workload = "memory-intensive"
options = { time_limit = "20s" }"#,
    ));
    assert_eq!(get(&r, "vm", "completed"), 0.0);
    assert_eq!(get(&r, "vm", "converged"), 0.0);
    assert!(
        get(&r, "vm", "wire_bytes") > 0.0,
        "reports what it had sent"
    );
    assert!(get(&r, "vm", "passes") >= 1.0);
}

/// Two migrations into one host share its 1 Gbit/s downlink: together they get no more
/// than the link, and each is slower than the same migration alone.
#[test]
fn concurrent_migrations_share_the_link() {
    let vm = |name: &str, src: &str| {
        format!(
            r#"[[migrations]]
name = "{name}"
src = "{src}"
dst = "h2"
memory = "128MiB"
dirty = {{ rate = 0.0 }}
options = {{ max_bandwidth = "none" }}
"#
        )
    };
    let alone = run(&experiment("alone", "1Gbps", "10s", &vm("a", "h0")));
    let both = run(&experiment(
        "both",
        "1Gbps",
        "10s",
        &format!("{}{}", vm("a", "h0"), vm("b", "h1")),
    ));
    let t_alone = get(&alone, "a", "total_time");
    for v in ["a", "b"] {
        assert_sound(&both, v);
        let t = get(&both, v, "total_time");
        assert!(t > 1.3 * t_alone, "{v}: {t} s shared vs {t_alone} s alone");
    }
    let bytes = get(&both, "a", "wire_bytes") + get(&both, "b", "wire_bytes");
    let span = get(&both, "a", "total_time").max(get(&both, "b", "total_time")) - FIXED;
    assert!(
        bytes / span <= 1e9 / 8.0,
        "together {} B/s ≤ the link's 125 MB/s",
        bytes / span
    );
}

/// Same experiment, same seed: the same results, byte for byte.
#[test]
fn a_migration_run_is_deterministic() {
    let text = experiment(
        "det",
        "1Gbps",
        "5s",
        r#"[[migrations]]
name = "vm"
src = "h0"
dst = "h1"
memory = "64MiB"
workload = "database""#,
    );
    let a = run(&text);
    let b = run(&text);
    assert_eq!(a.digest, b.digest);
    assert_eq!(format!("{:?}", a.measures), format!("{:?}", b.measures));
}

/// Bad values are errors naming the file and the key.
#[test]
fn bad_migrations_are_clear_errors() {
    let base = |extra: &str| {
        experiment(
            "bad",
            "1Gbps",
            "5s",
            &format!("[[migrations]]\nsrc = \"h0\"\ndst = \"h1\"\nmemory = \"64MiB\"\n{extra}"),
        )
    };
    let cases = [
        (
            base("").replace("memory = \"64MiB\"", "memory = 0"),
            "`memory`",
        ),
        (base("dirty = { working_set = \"1GiB\" }"), "`working_set`"),
        (base("dirty = { rate = -5.0 }"), "`rate`"),
        (base("profile = \"xen\""), "unknown migration profile `xen`"),
        (
            base("").replace("memory = \"64MiB\"", "memory = \"2048GiB\""),
            "1 TiB",
        ),
        (
            base("options = { downtime_limit = \"0s\" }"),
            "`options.downtime_limit`",
        ),
        (base("workload = \"gaming\""), "gaming"),
    ];
    for (text, needle) in cases {
        let err = match LoadedExperiment::from_text(&text, std::path::Path::new("bad.toml"), &[]) {
            Ok(exp) => match scenario::prepare(&exp) {
                Ok(_) => panic!("accepted: {needle}"),
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        assert!(err.contains("bad.toml"), "{err}");
        assert!(err.contains("migrations[0]"), "{err}");
        assert!(err.contains(needle), "{err} should name {needle}");
    }
}

/// Every profile on the same 1 Gbit/s link with the same 128 MiB web-server guest (links
/// lossless by PFC above 200 KB queued, as RoCE needs): each completes with the destination
/// consistent; the profiles that compress (DWCP v3 internet, v1, Hyper-V) put fewer bytes
/// on the wire than KVM's raw stream, and the HDE pipeline (zero pages, dedup, delta,
/// zstd-3) saves more than half the page bytes (the seed's 70–85% target is the report's
/// to check).
#[test]
fn every_profile_migrates_over_the_same_link() {
    let profiles = [
        "kvm",
        "dwcp-v3-datacenter",
        "dwcp-v3-internet",
        "dwcp-v1",
        "vmotion",
        "hyperv",
    ];
    let run_one = |p: &str| {
        let text = experiment(
            p,
            "1Gbps",
            "20s",
            &format!(
                "[[migrations]]\nname = \"vm\"\nsrc = \"h0\"\ndst = \"h1\"\nmemory = \"128MiB\"\nworkload = \"web-server\"\nprofile = \"{p}\"\n"
            ),
        )
        .replace("queue_packets = 1000", "queue_packets = 1000, pfc_xoff = \"200KB\"");
        run(&text)
    };
    let runs: Vec<(&str, RunRecords)> = profiles.iter().map(|&p| (p, run_one(p))).collect();
    let wire = |p: &str| {
        get(
            &runs.iter().find(|r| r.0 == p).unwrap().1,
            "vm",
            "wire_bytes",
        )
    };
    // The whole guest at line rate: 128 MiB × 8 / 1 Gbit/s = 1.074 s. Every profile here
    // puts fewer bytes than that on the wire (zero pages are skipped, the codecs shrink the
    // rest, the second pass is small) over a link it has to itself, so none may take twice
    // as long. The slowest, DWCP v3 datacenter over 64 RoCE queue pairs, takes 1.43 s; with
    // the local ACK timer run from the wrong packet it went back N some 450 000 times
    // without a loss and took 11.1 s.
    let bound = 2.0 * (128u64 << 20) as f64 * 8.0 / 1e9;
    for (p, r) in &runs {
        assert_sound(r, "vm");
        let t = get(r, "vm", "total_time");
        assert!(t < bound, "{p} took {t} s, bound {bound} s");
    }
    // PFC keeps RoCE lossless here, so a queue pair that resends does so spuriously.
    let roce = &runs.iter().find(|r| r.0 == "dwcp-v3-datacenter").unwrap().1;
    let channel = roce
        .flows
        .iter()
        .find(|f| f.name == "migration/vm0")
        .unwrap();
    let resent = channel
        .extra
        .iter()
        .find(|m| m.0 == "retransmitted_packets");
    assert_eq!(resent.map(|m| m.1), Some(0.0));
    for (p, r) in &runs {
        if ["dwcp-v3-internet", "dwcp-v1", "hyperv"].contains(p) {
            assert!(
                wire(p) < 0.8 * wire("kvm"),
                "{p}: {} B vs kvm {}",
                wire(p),
                wire("kvm")
            );
            assert!(get(r, "vm", "codec_cpu_time") > 0.0);
        } else {
            assert_eq!(get(r, "vm", "codec_cpu_time"), 0.0, "{p} sends raw pages");
        }
        if *p == "dwcp-v3-internet" {
            assert!(get(r, "vm", "space_saved") > 0.5);
        }
    }
}

/// The README's `[[migrations]]` example, every key in it, is a valid experiment.
#[test]
fn the_readme_example_is_valid() {
    let readme = include_str!("../README.md");
    let section = &readme[readme.find("## Live migration").expect("the section")..];
    let start = section.find("```toml\n").expect("an example") + 8;
    let example = &section[start..start + section[start..].find("```").expect("its end")];
    let text = experiment("readme", "10Gbps", "5s", example);
    let exp = LoadedExperiment::from_text(&text, std::path::Path::new("readme.toml"), &[])
        .unwrap_or_else(|e| panic!("{e}"));
    scenario::prepare(&exp).unwrap_or_else(|e| panic!("{e}"));
}
