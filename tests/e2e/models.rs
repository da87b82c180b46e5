//! The generated model code is the contract: it must match what the generator makes of the vendored models.

#[test]
fn generated_code_matches_the_vendored_models() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let stale = |path: &str| format!("{path} is stale: run `cargo run -p localplane-codegen` and commit the result");
    let mut models = Vec::new();
    for (module, model) in localplane_codegen::SERVICES {
        let json = std::fs::read_to_string(root.join(model)).expect("vendored model");
        let fresh = localplane_codegen::generate(module, &json).expect("generation");
        let path = localplane_codegen::output_path(module);
        let checked_in = std::fs::read_to_string(root.join(&path)).expect("generated file");
        assert!(fresh == checked_in, "{}", stale(&path));
        models.push((*module, json));
    }
    let borrowed: Vec<(&str, &str)> = models.iter().map(|(m, j)| (*m, j.as_str())).collect();
    let index = localplane_codegen::generate_index(&borrowed).expect("index generation");
    let checked_in = std::fs::read_to_string(root.join(localplane_codegen::INDEX_PATH)).expect("generated index");
    assert!(index == checked_in, "{}", stale(localplane_codegen::INDEX_PATH));
}
