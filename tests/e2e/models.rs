//! The generated model code is the contract: it must match what the generator makes of the vendored models.

#[test]
fn generated_code_matches_the_vendored_models() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (module, model) in localplane_codegen::SERVICES {
        let json = std::fs::read_to_string(root.join(model)).expect("vendored model");
        let fresh = localplane_codegen::generate(module, &json).expect("generation");
        let checked_in =
            std::fs::read_to_string(root.join(localplane_codegen::output_path(module))).expect("generated file");
        assert!(
            fresh == checked_in,
            "{} is stale: run `cargo run -p localplane-codegen` and commit the result",
            localplane_codegen::output_path(module)
        );
    }
}
