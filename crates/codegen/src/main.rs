//! `cargo run -p localplane-codegen`: regenerates `src/model/*.rs` from the vendored models.

use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut models = Vec::new();
    for (module, model) in localplane_codegen::SERVICES {
        let json = std::fs::read_to_string(root.join(model)).unwrap_or_else(|e| panic!("reading {model}: {e}"));
        let code = localplane_codegen::generate(module, &json).unwrap_or_else(|e| panic!("generating {module}: {e}"));
        let out = root.join(localplane_codegen::output_path(module));
        std::fs::write(&out, code).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
        println!("wrote {}", out.display());
        models.push((*module, json));
    }
    let borrowed: Vec<(&str, &str)> = models.iter().map(|(m, j)| (*m, j.as_str())).collect();
    let index = localplane_codegen::generate_index(&borrowed).unwrap_or_else(|e| panic!("generating the index: {e}"));
    let out = root.join(localplane_codegen::INDEX_PATH);
    std::fs::write(&out, index).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
    println!("wrote {}", out.display());
}
