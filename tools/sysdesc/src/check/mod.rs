//! Semantic passes over a model: each looks for one kind of mistake and
//! records every instance it finds; none stops the others.
//!
//! - [`limits`]: Microkit's and the kernel's limits, with their figures;
//! - [`schedule`]: per-CPU utilisation of budgets over periods, dynamic
//!   FWPs included;
//! - [`priority`]: sDDF's priority order and upward-only protected calls;
//! - [`isolation`]: what tenants (FWPs) may map;
//! - [`layout`]: each PD's address space, including its program image;
//! - [`symbols`]: setvar symbols against the program images;
//! - [`blobs`]: configuration blobs (prefilled regions) against the maps,
//!   and the FWP manager's dynamic FWPs against the mux.
//!
//! Roles (driver, mux, tenants) are recognised from the structure of the
//! system, so the same passes run on generated and hand-written files; see
//! [`roles`].

pub mod checkpoint;
pub mod blobs;
pub mod isolation;
pub mod layout;
pub mod limits;
pub mod priority;
pub mod roles;
pub mod schedule;
pub mod symbols;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::boards::Board;
use crate::diagnostic::Diagnostics;
use crate::elf::{self, Images};
use crate::model::System;

/// What the passes need besides the model.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The board the system is for.
    pub board: &'static Board,
    /// Where to look for program images (as `--search-path` for the Microkit
    /// tool); empty to skip the program-image checks.
    pub search_paths: Vec<PathBuf>,
    /// Prefill files that come with the system (a configuration's blobs, by
    /// file name); looked up before the search paths.
    pub blobs: BTreeMap<String, Vec<u8>>,
}

/// Runs every pass over `system`, recording findings in `diags`.
pub fn check(system: &System, options: &CheckOptions, diags: &mut Diagnostics) {
    let roles = roles::Roles::identify(system);
    limits::check(system, options.board, diags);
    priority::check(system, &roles, diags);
    isolation::check(system, &roles, diags);
    let images = match options.search_paths.is_empty() {
        true => Images::new(),
        false => {
            let programs = system.all_pds().into_iter().map(|r| r.pd.program.as_str());
            elf::load_all(programs, &options.search_paths, options.board.small_page())
        }
    };
    layout::check(system, options, &images, diags);
    let described = blobs::check(system, options, diags);
    // The dynamic FWPs, which only the blobs show, have budgets too.
    schedule::check(system, &described.dynamic, diags);
    symbols::check(system, &images, &described, diags);
    checkpoint::check(system, &images, diags);
}
