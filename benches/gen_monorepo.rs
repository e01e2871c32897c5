//! Generates the synthetic monorepo:
//! `gen-monorepo DIR [--images N] [--files N] [--shared N] [--bases N] [--buildable]`.

#[path = "support/monorepo.rs"]
mod monorepo;

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
    else {
        eprintln!("usage: gen-monorepo DIR [--images N] [--files N] [--shared N] [--bases N] [--buildable]");
        std::process::exit(2);
    };
    let options = monorepo::parse_options(&args[1..]);
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        eprintln!("`{}` exists and is not empty", dir.display());
        std::process::exit(2);
    }
    std::fs::create_dir_all(&dir).expect("create the folder");
    let started = std::time::Instant::now();
    let layout = monorepo::generate(&dir, &options);
    println!(
        "generated `{}`: {} images, {} files, {} shared folders in {:.1}s",
        dir.display(),
        layout.images.len(),
        layout.files_written,
        layout.shared_users.len(),
        started.elapsed().as_secs_f64()
    );
}
