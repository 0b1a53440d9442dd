//! The `sysdesc` binary: exit codes, the `error:` prefix, and `build`
//! mapping the Microkit tool's verdict back to elements.

mod common;

use std::process::{Command, Output};

use common::{built_elfs, elfs_out_of_step, fixture, repo_root, temp_dir};
use edgeos_sysdesc::microkit;

fn sysdesc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sysdesc"))
        .args(args)
        .output()
        .expect("run sysdesc")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn check_reports_every_error_with_prefix_and_exits_1() {
    let out = sysdesc(&[
        "check",
        "--system",
        path(&fixture("priority_mux_above_driver.xml")),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.lines()
            .any(|l| l.starts_with("error: sDDF priority order needs every mux below the driver")),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with("note: program images not checked")),
        "{err}"
    );
    assert!(
        err.trim_end()
            .ends_with("sysdesc: 1 error(s), 0 warning(s)"),
        "{err}"
    );
}

#[test]
fn check_of_the_project_files_passes() {
    for args in [["--config", "system.toml"], ["--system", "system.xml"]] {
        let p = repo_root().join(args[1]);
        let out = sysdesc(&["check", args[0], path(&p)]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
}

/// `sysdesc derive` of the project's system.toml with `variant` into `out`.
fn derive_from_system_toml(variant: &std::path::Path, out: &std::path::Path) -> Output {
    let base = repo_root().join("system.toml");
    sysdesc(&["derive", "--config", path(&base), "--variant", path(variant), "-o", path(out)])
}

#[test]
fn every_test_variant_of_system_toml_derives_and_checks() {
    let dir = temp_dir("cli-variants");
    let variants = std::fs::read_dir(repo_root().join("ci/variants")).expect("ci/variants");
    let mut seen = 0;
    for entry in variants {
        let variant = entry.expect("entry").path();
        let out_file = dir.join(variant.file_name().expect("a file"));
        let out = derive_from_system_toml(&variant, &out_file);
        assert_eq!(out.status.code(), Some(0), "{}: {}", variant.display(), stderr(&out));
        let derived = std::fs::read_to_string(&out_file).expect("derived");
        assert_ne!(derived, std::fs::read_to_string(repo_root().join("system.toml")).unwrap());
        seen += 1;
    }
    assert!(seen > 0, "no variants in ci/variants");
}

#[test]
fn derive_names_a_template_the_base_lacks_and_writes_nothing() {
    let dir = temp_dir("cli-derive");
    let variant = dir.join("typo.toml");
    std::fs::write(&variant, "[templates.tcp_ech]\nrenew = true\n").unwrap();
    let out_file = dir.join("out.toml");
    let out = derive_from_system_toml(&variant, &out_file);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("template `tcp_ech`, which the base does not have"), "{}", stderr(&out));
    assert!(!out_file.exists());
}

#[test]
fn check_needs_exactly_one_input() {
    assert_eq!(sysdesc(&["check"]).status.code(), Some(2));
    let both = sysdesc(&["check", "--config", "a.toml", "--system", "b.xml"]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn generate_writes_nothing_for_a_bad_configuration() {
    let dir = temp_dir("cli-generate");
    let out_file = dir.join("system.xml");
    let out = sysdesc(&[
        "generate",
        "--config",
        path(&fixture("config_pool_larger_than_slots.toml")),
        "-o",
        path(&out_file),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: a warm pool holds between 1 and"),
        "{}",
        stderr(&out)
    );
    assert!(!out_file.exists());
    let out = sysdesc(&[
        "generate",
        "--config",
        path(&fixture("valid_minimal.toml")),
        "-o",
        path(&out_file),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out_file.is_file());
}

#[test]
fn build_refuses_a_board_mismatch_before_running_microkit() {
    let dir = temp_dir("cli-board");
    let out = sysdesc(&[
        "build",
        "--config",
        path(&repo_root().join("system.toml")),
        "--board",
        "pi5",
        "-o",
        path(&dir.join("loader.img")),
        "--sdk",
        "/nonexistent",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("error: --board must be the configuration's board ('qemu_virt_aarch64')"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn build_maps_a_microkit_rejection_to_the_element() {
    if microkit::find_sdk(None).is_err() {
        println!("note: skipped: no Microkit SDK 2.3.0 found");
        return;
    }
    // An empty search path: sysdesc notes the images it cannot check, the
    // Microkit tool rejects the first one it cannot find.
    let dir = temp_dir("cli-reject");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("dir");
    let out = sysdesc(&[
        "build",
        "--config",
        path(&repo_root().join("system.toml")),
        "--search-path",
        path(&empty),
        "--config-name",
        "debug",
        "-o",
        path(&dir.join("loader.img")),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let xml = dir.join("loader.system.xml");
    let expected = format!(
        "error: the Microkit tool rejected the system: unable to find program image: 'net_driver.elf' [<program_image path=\"net_driver.elf\"> in 'net_driver'] @ {}:",
        xml.display()
    );
    assert!(err.lines().any(|l| l.starts_with(&expected)), "{err}");
}

#[test]
fn build_succeeds_with_the_built_elfs() {
    let elfs = built_elfs();
    if microkit::find_sdk(None).is_err() || !elfs.join("mux.elf").is_file() {
        println!(
            "note: skipped: no Microkit SDK 2.3.0 or no built ELFs in {}",
            elfs.display()
        );
        return;
    }
    let dir = temp_dir("cli-build");
    let sdk = microkit::find_sdk(None).expect("checked above");
    if let Some(also) = elfs_out_of_step(&sdk, &elfs, &dir) {
        println!("note: skipped: the built ELFs do not match system.xml ({also}); rebuild them with `make image`");
        return;
    }
    let img = dir.join("loader.img");
    let out = sysdesc(&[
        "build",
        "--config",
        path(&repo_root().join("system.toml")),
        "--search-path",
        path(&elfs),
        "--board",
        "qemu_virt_aarch64",
        "--config-name",
        "debug",
        "-o",
        path(&img),
        "-r",
        path(&dir.join("report.txt")),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(img.is_file());
    assert!(
        stderr(&out).contains("MICROKIT|LOADER: image file size"),
        "{}",
        stderr(&out)
    );
}
