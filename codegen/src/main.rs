//! `cargo run -p kafkite-codegen [SPEC_DIR]`: regenerates src/protocol/generated.

use std::process::ExitCode;

fn main() -> ExitCode {
    let spec_dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(kafkite_codegen::default_spec_dir);
    let files = match kafkite_codegen::generate_formatted(&spec_dir) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("kafkite-codegen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let out_dir = kafkite_codegen::workspace_root().join(kafkite_codegen::OUTPUT_DIR);
    // Start from an empty folder so that files of specs that went away go too.
    let _ = std::fs::remove_dir_all(&out_dir);
    for (path, code) in &files {
        let target = out_dir.join(path);
        if let Some(parent) = target.parent() {
            if let Err(e) = std::fs::create_dir_all(parent) {
                eprintln!("kafkite-codegen: {}: {e}", parent.display());
                return ExitCode::FAILURE;
            }
        }
        if let Err(e) = std::fs::write(&target, code) {
            eprintln!("kafkite-codegen: {}: {e}", target.display());
            return ExitCode::FAILURE;
        }
    }
    println!("wrote {} files to {}", files.len(), out_dir.display());
    ExitCode::SUCCESS
}
