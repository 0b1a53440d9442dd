//! Program images: where an ELF's loadable segments sit in a PD's address
//! space, and which symbols it defines, read with the `object` crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};

/// The pages one `PT_LOAD` segment occupies: `[start, end)`, rounded out to
/// `page` (the Microkit tool maps whole pages for each segment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// First byte of the first page.
    pub start: u64,
    /// One past the last page.
    pub end: u64,
}

/// What the checks need from one program image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Where it was found.
    pub path: PathBuf,
    /// Its loadable segments, page-rounded.
    pub segments: Vec<Segment>,
    /// Every defined symbol.
    pub symbols: BTreeSet<String>,
    /// Defined global data objects (where setvar symbols live).
    pub data_symbols: BTreeSet<String>,
    /// The writable `PT_LOAD` segments, `(vaddr, memsz)`, unrounded: what a
    /// template PD checkpoints.
    pub writable: Vec<(u64, u64)>,
}

/// Where the Microkit tool would find `program`: the first search path that
/// has it (the tool's `get_full_path`).
pub fn find(program: &str, search_paths: &[PathBuf]) -> Option<PathBuf> {
    search_paths
        .iter()
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Reads the ELF at `path`; a message when it cannot be read or is not ELF.
pub fn load(path: &Path, page: u64) -> Result<Image, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let file = object::File::parse(&*data).map_err(|e| format!("not an ELF file: {e}"))?;
    if file.format() != object::BinaryFormat::Elf {
        return Err("not an ELF file".to_string());
    }
    let page = page.max(1);
    let segments = file
        .segments()
        .filter(|s| s.size() > 0)
        .map(|s| Segment {
            start: s.address() / page * page,
            end: s
                .address()
                .saturating_add(s.size())
                .div_ceil(page)
                .saturating_mul(page),
        })
        .collect();
    let writable = file
        .segments()
        .filter(|s| s.size() > 0)
        .filter(|s| matches!(s.flags(), object::SegmentFlags::Elf { p_flags } if p_flags & object::elf::PF_W != 0))
        .map(|s| (s.address(), s.size()))
        .collect();
    let mut symbols = BTreeSet::new();
    let mut data_symbols = BTreeSet::new();
    for sym in file.symbols().filter(|s| s.is_definition()) {
        let Ok(name) = sym.name() else { continue };
        if sym.kind() == SymbolKind::Data && sym.is_global() {
            data_symbols.insert(name.to_string());
        }
        symbols.insert(name.to_string());
    }
    Ok(Image {
        path: path.to_path_buf(),
        segments,
        symbols,
        data_symbols,
        writable,
    })
}

/// Each distinct program of a system: its image, or why it has none.
pub type Images = BTreeMap<String, Result<Image, String>>;

/// Finds and reads every program in `programs` from `search_paths`.
pub fn load_all<'a>(
    programs: impl IntoIterator<Item = &'a str>,
    search_paths: &[PathBuf],
    page: u64,
) -> Images {
    let mut images = Images::new();
    for program in programs {
        if images.contains_key(program) {
            continue;
        }
        let image = match find(program, search_paths) {
            Some(path) => load(&path, page).map_err(|e| format!("{}: {e}", path.display())),
            None => {
                let dirs: Vec<_> = search_paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                Err(format!("not found in {}", dirs.join(", ")))
            }
        };
        images.insert(program.to_string(), image);
    }
    images
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_an_elf() {
        let dir = std::env::temp_dir().join(format!("sysdesc-elf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("junk.elf");
        std::fs::write(&path, b"\x7fELF junk").unwrap();
        assert!(load(&path, 0x1000).is_err());
        assert_eq!(find("junk.elf", std::slice::from_ref(&dir)), Some(path));
        let images = load_all(
            ["junk.elf", "nope.elf", "junk.elf"],
            std::slice::from_ref(&dir),
            0x1000,
        );
        assert_eq!(images.len(), 2);
        assert!(images["nope.elf"]
            .as_ref()
            .unwrap_err()
            .starts_with("not found in "));
        let _ = std::fs::remove_dir_all(dir);
    }
}
