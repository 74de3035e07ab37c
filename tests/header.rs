//! The committed C header must be the one cbindgen generates from the
//! sources now: C programs compile against the committed copy, so a stale
//! one would promise functions or values the library does not have.

use std::path::Path;

const REGENERATE: &str = "CHA_UPDATE_HEADER=1 cargo build";

#[test]
fn committed_header_matches_the_generated_one() {
    let generated_path = concat!(env!("OUT_DIR"), "/cha_deploy.h");
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/cha_deploy.h");
    let generated = std::fs::read_to_string(generated_path)
        .unwrap_or_else(|e| panic!("cannot read the generated header {generated_path}: {e}"));
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_else(|e| {
        panic!(
            "cannot read the committed header {}: {e}; regenerate it with `{REGENERATE}`",
            committed_path.display()
        )
    });
    if committed == generated {
        return;
    }
    let first_difference = committed
        .lines()
        .zip(generated.lines())
        .position(|(c, g)| c != g)
        .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
    let line = |text: &str| {
        text.lines()
            .nth(first_difference)
            .map_or("<end of file>".to_string(), |l| format!("{l:?}"))
    };
    panic!(
        "include/cha_deploy.h is out of date with the Rust sources; regenerate it with \
         `{REGENERATE}` and commit it.\nFirst difference at line {}:\n  committed: {}\n  \
         generated: {}\n(generated header: {generated_path})",
        first_difference + 1,
        line(&committed),
        line(&generated),
    );
}
