//! The project's own files: `system.toml` must generate the system that
//! `system.xml` describes, the generated text must parse back to the same
//! model, and the Microkit tool must accept it (when the SDK and the built
//! ELFs are there; otherwise that part is skipped with a printed note).

mod common;

use common::{
    elfs_out_of_step, microkit_verdict, repo_root, sdk_and_built, temp_dir, write_project_blobs,
};
use edgeos_sysdesc::commands::{self, load_and_check};
use edgeos_sysdesc::{emit, parse_sdf, Diagnostics};

fn generated() -> edgeos_sysdesc::System {
    let (model, diags) = load_and_check(&repo_root().join("system.toml"), &[]);
    assert!(!diags.has_errors(), "{:#?}", diags.items());
    model.expect("system.toml generates a model").1
}

#[test]
fn system_toml_generates_the_system_of_system_xml() {
    let mut diags = Diagnostics::new(Some(&repo_root().join("system.xml")));
    let parsed = commands::read_system(&repo_root().join("system.xml"), &mut diags);
    assert!(!diags.has_errors(), "{:#?}", diags.items());
    let parsed = parsed.expect("system.xml parses");
    let generated = generated();
    // Compare piece by piece first, so a failure names what differs.
    assert_eq!(generated.memory_regions, parsed.memory_regions);
    for (g, p) in generated.all_pds().iter().zip(parsed.all_pds()) {
        assert_eq!(g.pd.name, p.pd.name);
        assert_eq!(g.pd.maps, p.pd.maps, "maps of {}", g.pd.name);
        assert_eq!(g.pd.irqs, p.pd.irqs, "irqs of {}", g.pd.name);
        assert_eq!(g.pd.setvars, p.pd.setvars, "setvars of {}", g.pd.name);
        assert_eq!(
            g.child.map(|c| (c.id, &c.setvar_id)),
            p.child.map(|c| (c.id, &c.setvar_id))
        );
    }
    assert_eq!(generated.channels, parsed.channels);
    assert_eq!(generated, parsed);
}

#[test]
fn system_xml_is_exactly_what_system_toml_generates() {
    let committed = std::fs::read_to_string(repo_root().join("system.xml")).expect("system.xml");
    let text = emit::emit(&generated());
    assert!(
        committed == text,
        "system.xml is not what system.toml generates; regenerate it with\n  \
         cargo run -p edgeos-sysdesc -- generate --config system.toml -o system.xml"
    );
}

#[test]
fn system_xml_passes_every_check() {
    // Without program images: whether the built ELFs are in step with
    // system.xml is the Microkit round trip's business below.
    let diags = commands::check_system(&repo_root().join("system.xml"), "qemu_virt_aarch64", &[]);
    assert!(!diags.has_errors(), "{:#?}", diags.items());
}

#[test]
fn emitted_text_parses_back_to_the_same_model() {
    for config in [
        repo_root().join("system.toml"),
        common::fixture("golden/system.toml"),
    ] {
        let (model, diags) = load_and_check(&config, &[]);
        assert!(!diags.has_errors(), "{:#?}", diags.items());
        let model = model.expect("model").1;
        let text = emit::emit(&model);
        let mut diags = Diagnostics::new(None);
        let parsed = parse_sdf::parse(&text, &mut diags);
        assert!(diags.is_empty(), "{:#?}", diags.items());
        assert_eq!(parsed.as_ref(), Some(&model), "{}", config.display());
    }
}

#[test]
fn microkit_accepts_the_generated_file() {
    let Some((sdk, elfs)) = sdk_and_built("Microkit round trip", &["net_driver.elf", "mux.elf", "tenant_echo.elf"]) else {
        return;
    };
    let dir = temp_dir("microkit");
    let xml = dir.join("system.xml");
    std::fs::write(&xml, emit::emit(&generated())).expect("write");
    // The prefill files: system.toml's blobs, found before any in the build.
    write_project_blobs(&dir);
    let search = [dir.to_path_buf(), elfs.clone()];
    if let Err(rejected) = microkit_verdict(&sdk, &xml, &search, &dir) {
        if let Some(also) = elfs_out_of_step(&sdk, &elfs, &dir) {
            println!("note: Microkit round trip skipped: the built ELFs do not match system.xml either ({also}); rebuild them with `make image`");
            return;
        }
        panic!("the Microkit tool rejected the generated file but accepts system.xml:\n{rejected}");
    }
    assert!(dir.join("loader.img").is_file());
    // And the generated system passes sysdesc's checks against the real
    // ELFs and the blobs, without a warning (the mux's slot maps are in its
    // blob).
    let diags = commands::check_system(&xml, "qemu_virt_aarch64", &search);
    assert!(!diags.has_errors(), "{:#?}", diags.items());
    let warnings: Vec<_> = diags
        .items()
        .iter()
        .filter(|d| d.severity() == edgeos_sysdesc::Severity::Warning)
        .map(ToString::to_string)
        .collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
}
