//! `cargo bench` entry point: the same scenarios as `dwcp-sim bench`.
fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    match dwcp_sim::bench::run_all(quick) {
        Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
