//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use edgeos_sysdesc::{commands, microkit};
use edgeos_sysdesc::{Diagnostics, Severity};

/// This crate's directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The repository root (`/work/main`), two levels up.
pub fn repo_root() -> PathBuf {
    crate_dir().join("../..")
}

/// A fixture file.
pub fn fixture(name: &str) -> PathBuf {
    crate_dir().join("tests/fixtures").join(name)
}

/// Where the Makefile puts the PD ELFs for the debug build.
pub fn built_elfs() -> PathBuf {
    repo_root().join("build/qemu_virt_aarch64/debug/cargo/aarch64-sel4/release")
}

/// The Microkit SDK and the directory of the built ELFs, when there is an
/// SDK and `programs` are built there; otherwise `None`, after a note that
/// `what` was skipped and why.
pub fn sdk_and_built(what: &str, programs: &[&str]) -> Option<(PathBuf, PathBuf)> {
    let Ok(sdk) = microkit::find_sdk(None) else {
        println!("note: {what} skipped: no Microkit SDK 2.3.0 found");
        return None;
    };
    let elfs = built_elfs();
    let missing: Vec<_> = programs.iter().filter(|e| !elfs.join(e).is_file()).collect();
    if !missing.is_empty() {
        println!("note: {what} skipped: {missing:?} not built in {} (run `make image`)", elfs.display());
        return None;
    }
    Some((sdk, elfs))
}

/// A fresh temporary directory for one test, removed when dropped (also
/// when the test returns early or fails).
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("sysdesc-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    TempDir(dir)
}

/// Checks a fixture: `.toml` as a configuration, `.xml` as a system
/// description, with `search_paths` for program images.
pub fn check(name: &str, search_paths: &[PathBuf]) -> Diagnostics {
    let path = fixture(name);
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => commands::check_config(&path, search_paths),
        _ => commands::check_system(&path, "qemu_virt_aarch64", search_paths),
    }
}

/// The rendered errors of `diags`.
pub fn errors(diags: &Diagnostics) -> Vec<String> {
    diags
        .items()
        .iter()
        .filter(|d| d.severity() == Severity::Error)
        .map(ToString::to_string)
        .collect()
}

/// Asserts that checking fixture `name` gives an error starting with
/// `prefix` whose location is in the fixture (when `located`); returns all
/// errors for further assertions.
pub fn check_error(name: &str, prefix: &str, located: bool) -> Vec<String> {
    let diags = check(name, &[]);
    let errors = errors(&diags);
    let hit = errors.iter().find(|e| e.starts_with(prefix));
    let Some(hit) = hit else {
        panic!("{name}: no error starts with {prefix:?}; errors: {errors:#?}");
    };
    if located {
        let suffix = format!("@ {}:", fixture(name).display());
        assert!(
            hit.contains(&suffix),
            "{name}: {hit:?} is not located in the fixture"
        );
        let tail = hit.rsplit(':').take(2).collect::<Vec<_>>();
        assert!(
            tail.iter().all(|n| n.parse::<u32>().is_ok()),
            "{name}: {hit:?} lacks line:col"
        );
    }
    errors
}

/// Asserts that checking fixture `name` finds no error.
pub fn check_success(name: &str) {
    let diags = check(name, &[]);
    assert!(!diags.has_errors(), "{name}: {:#?}", errors(&diags));
}

/// Writes a minimal aarch64 ELF64 with one `PT_LOAD` segment at `vaddr`
/// of `memsz` bytes (a `.data` section without file contents) and global
/// data symbols `symbols` in it: enough for the layout and symbol checks.
pub fn write_tiny_elf(path: &Path, vaddr: u64, memsz: u64, symbols: &[&str]) {
    fn u16s(b: &mut Vec<u8>, v: &[u16]) {
        v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
    }
    fn u32s(b: &mut Vec<u8>, v: &[u32]) {
        v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
    }
    fn u64s(b: &mut Vec<u8>, v: &[u64]) {
        v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
    }
    fn align8(b: &mut Vec<u8>) {
        while b.len() % 8 != 0 {
            b.push(0);
        }
    }
    // Tables after the headers: .strtab, .symtab, .shstrtab, section headers.
    let mut body = Vec::new();
    let base = 64 + 56;
    let strtab_off = base;
    let mut name_offsets = Vec::new();
    body.push(0);
    for s in symbols {
        name_offsets.push(body.len() as u32);
        body.extend_from_slice(s.as_bytes());
        body.push(0);
    }
    let strtab_size = body.len() as u64;
    while (base + body.len()) % 8 != 0 {
        body.push(0);
    }
    let symtab_off = base + body.len();
    body.extend_from_slice(&[0; 24]);
    for (i, off) in name_offsets.iter().enumerate() {
        u32s(&mut body, &[*off]);
        body.extend_from_slice(&[0x11, 0]); // STB_GLOBAL | STT_OBJECT, default visibility
        u16s(&mut body, &[1]); // .data
        u64s(&mut body, &[vaddr + 8 * i as u64, 8]);
    }
    let symtab_size = (24 * (symbols.len() + 1)) as u64;
    let shstrtab_off = base + body.len();
    let shstrtab = b"\0.data\0.strtab\0.symtab\0.shstrtab\0";
    body.extend_from_slice(shstrtab);
    while (base + body.len()) % 8 != 0 {
        body.push(0);
    }
    let shoff = (base + body.len()) as u64;
    let sh = |b: &mut Vec<u8>,
              name: u32,
              ty: u32,
              flags: u64,
              addr: u64,
              off: u64,
              size: u64,
              link: u32,
              info: u32,
              entsize: u64| {
        u32s(b, &[name, ty]);
        u64s(b, &[flags, addr, off, size]);
        u32s(b, &[link, info]);
        u64s(b, &[8, entsize]);
    };
    body.extend_from_slice(&[0; 64]);
    sh(&mut body, 1, 8, 3, vaddr, 0, memsz, 0, 0, 0); // .data: NOBITS, WA
    sh(
        &mut body,
        7,
        3,
        0,
        0,
        strtab_off as u64,
        strtab_size,
        0,
        0,
        0,
    );
    sh(
        &mut body,
        15,
        2,
        0,
        0,
        symtab_off as u64,
        symtab_size,
        2,
        1,
        24,
    );
    sh(
        &mut body,
        23,
        3,
        0,
        0,
        shstrtab_off as u64,
        shstrtab.len() as u64,
        0,
        0,
        0,
    );

    let mut b = Vec::new();
    b.extend_from_slice(b"\x7fELF");
    b.extend_from_slice(&[2, 1, 1, 0]); // 64-bit, little-endian, version 1, SysV
    b.extend_from_slice(&[0; 8]);
    u16s(&mut b, &[2, 183]); // ET_EXEC, EM_AARCH64
    u32s(&mut b, &[1]);
    u64s(&mut b, &[vaddr, 64, shoff]); // entry, phoff, shoff
    u32s(&mut b, &[0]); // flags
    u16s(&mut b, &[64, 56, 1, 64, 5, 4]); // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
    u32s(&mut b, &[1, 6]); // PT_LOAD, RW
    u64s(&mut b, &[0, vaddr, vaddr, 0, memsz, 0x1000]);
    align8(&mut b);
    b.extend_from_slice(&body);
    std::fs::write(path, b).expect("write ELF");
}

/// Runs the Microkit tool on `xml` with the program images and prefill
/// files in `search_paths`, writing into `out_dir`; its error output when
/// it rejects the file.
pub fn microkit_verdict(
    sdk: &Path,
    xml: &Path,
    search_paths: &[PathBuf],
    out_dir: &Path,
) -> Result<(), String> {
    let inv = microkit::Invocation {
        sdk,
        system: xml,
        search_paths,
        board: "qemu_virt_aarch64",
        config: "debug",
        output: &out_dir.join("loader.img"),
        report: Some(&out_dir.join("report.txt")),
    };
    let out = microkit::run(&inv).map_err(|e| e.to_string())?;
    if out.success {
        Ok(())
    } else {
        Err(format!("{}{}", out.stdout, out.stderr).trim().to_string())
    }
}

/// Writes `system.toml`'s configuration blobs into `dir`.
pub fn write_project_blobs(dir: &Path) {
    let (diags, _) = commands::blobs_to_dir(&repo_root().join("system.toml"), dir);
    assert!(!diags.has_errors(), "{:#?}", diags.items());
}

/// Whether the built ELFs no longer match the committed `system.xml` (a PD
/// changed its setvars and the description has not caught up yet): then a
/// Microkit round trip of a generated file proves nothing either way. The
/// blobs come from `system.toml`, written into `out_dir`.
pub fn elfs_out_of_step(sdk: &Path, elfs: &Path, out_dir: &Path) -> Option<String> {
    write_project_blobs(out_dir);
    let search = [out_dir.to_path_buf(), elfs.to_path_buf()];
    microkit_verdict(sdk, &repo_root().join("system.xml"), &search, out_dir).err()
}
