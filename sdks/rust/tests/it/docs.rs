//! The example in the docs page and the README is examples/fair.rs, to the byte, and it runs
//! against a real broker and prints what the docs say it prints.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::broker::repo_root;
use crate::{Broker, Options};

const EXAMPLE: &str = "examples/fair.rs";
const FAIR: &str =
    "acme globex initech acme globex initech acme globex initech acme acme acme acme acme\n";

fn docs() -> [PathBuf; 2] {
    [
        repo_root().join("docs/sdk-rust.md"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"),
    ]
}

/// The body of the first ``` block of `lang` after `marker` in the file at `path`.
fn fenced(path: &PathBuf, marker: &str, lang: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let at = text.find(marker).unwrap_or_else(|| panic!("{} has no {marker:?}", path.display()));
    let open = format!("```{lang}\n");
    let start = text[at..].find(&open).unwrap_or_else(|| panic!("no ```{lang} after {marker:?}"))
        + at
        + open.len();
    let end = text[start..].find("```").expect("an unclosed block") + start;
    text[start..end].to_string()
}

#[test]
fn the_docs_show_the_fair_example() {
    let want =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(EXAMPLE)).unwrap();
    for doc in docs() {
        let got = fenced(&doc, &format!("<!-- rust-example: {EXAMPLE} -->"), "rust");
        assert!(
            got == want,
            "the Rust block in {} differs from {EXAMPLE}: copy the file into it",
            doc.display()
        );
    }
}

/// The example's executable, built by this cargo (of this test's profile) if need be.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap(); // target/<profile>/deps/it-<hash>
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "--quiet", "--example", "fair"]).current_dir(env!("CARGO_MANIFEST_DIR"));
    // Without the variables cargo sets for a running test: build scripts (ring's) watch some,
    // and the build would differ from the outer one, rebuilding both every time.
    for (k, _) in std::env::vars() {
        let runtime =
            ["CARGO_MANIFEST_", "CARGO_PKG_", "CARGO_CRATE_", "CARGO_BIN_", "CARGO_TARGET_TMPDIR"];
        if runtime.iter().any(|p| k.starts_with(p))
            || k == "CARGO_PRIMARY_PACKAGE"
            || k == "OUT_DIR"
        {
            build.env_remove(k);
        }
    }
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("running cargo build --example fair");
    assert!(status.success(), "cargo build --example fair: {status}");
    profile_dir.join("examples").join("fair")
}

#[test]
fn the_fair_example_runs_and_prints_what_the_docs_say() {
    let binary = example_binary();
    let b = Broker::must_start(Options::default());
    let mut child = Command::new(&binary)
        .env("FILA_ADDR", &b.addr)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", binary.display()));
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{EXAMPLE} did not finish in 2 minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{EXAMPLE}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, FAIR, "what the example printed");
    for doc in docs() {
        let shown = fenced(&doc, &format!("<!-- rust-output: {EXAMPLE} -->"), "text");
        assert_eq!(shown, FAIR, "{} shows another output than the example prints", doc.display());
    }
}
