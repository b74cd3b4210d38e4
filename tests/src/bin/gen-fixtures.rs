//! Writes the repository's bundled captures (`fixtures/*.pcap`) from the code in
//! `flowengine_tests::fixtures`. Usage: `gen-fixtures [DIR]` (default `fixtures`).

use flowengine_tests::{fixtures, pcap};
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "fixtures".into()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("sample.pcap");
    let frames = fixtures::sample();
    pcap::write_file(&path, pcap::DLT_EN10MB, &frames)?;
    println!("wrote {} ({} packets)", path.display(), frames.len());
    Ok(())
}
