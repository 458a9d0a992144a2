//! The committed generated code must be exactly what the generator makes
//! from the spec folder, so nobody hand-edits it and the specs and code
//! cannot drift apart.

use std::path::Path;

#[test]
fn committed_generated_code_matches_the_generator() {
    let spec_dir = kafkite_codegen::default_spec_dir();
    if !spec_dir.join("message").is_dir() {
        // The specs live outside the repository (../shared); a user's
        // checkout without them has nothing to compare against.
        eprintln!(
            "spec folder {} is absent: nothing to compare",
            spec_dir.display()
        );
        return;
    }
    let files = kafkite_codegen::generate_formatted(&spec_dir).expect("generator runs");
    let out_dir = kafkite_codegen::workspace_root().join(kafkite_codegen::OUTPUT_DIR);
    let mut stale = Vec::new();
    for (path, code) in &files {
        let committed = std::fs::read_to_string(out_dir.join(path)).unwrap_or_default();
        if &committed != code {
            stale.push(path.clone());
        }
    }
    let mut extra = Vec::new();
    collect_files(&out_dir, &out_dir, &mut extra);
    extra.retain(|p| !files.contains_key(p));
    assert!(
        stale.is_empty() && extra.is_empty(),
        "generated code is out of date (run `cargo run -p kafkite-codegen`): differs: {stale:?}, not generated: {extra:?}"
    );
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}
