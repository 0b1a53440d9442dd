//! A template PD's checkpoint must fit its image region: the region mapped
//! with the `tmpl_image_size` setvar holds `edgeos_fwp::image`'s header and
//! the program's writable `PT_LOAD` segments, as the template PD copies them
//! (rounded out to 16 bytes). The Microkit tool cannot know this; without the
//! check the template PD reports the shortfall on the console at boot and
//! its template never spawns.

use std::fmt;

use edgeos_fwp::ImageLayout;

use crate::diagnostic::Diagnostics;
use crate::elf::Images;
use crate::model::System;

/// The setvar that marks a template PD's image map.
const IMAGE_SIZE_SETVAR: &str = "tmpl_image_size";

/// A checkpoint that does not fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointIssue {
    /// The template PD.
    pub pd: String,
    /// Its image region.
    pub mr: String,
    /// The region's size.
    pub size: u64,
    /// What the checkpoint needs, or why it cannot be laid out.
    pub needed: Result<u64, String>,
}

impl fmt::Display for CheckpointIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let CheckpointIssue { pd, mr, size, needed } = self;
        match needed {
            Ok(needed) => write!(
                f,
                "a template's checkpoint must fit its image region: '{pd}' needs {needed:#x} bytes, '{mr}' has {size:#x} (raise the template's image_size)"
            ),
            Err(why) => write!(f, "a template's checkpoint must fit its image region: '{pd}''s program cannot be checkpointed: {why}"),
        }
    }
}

/// Checks every template PD whose program image was found.
pub fn check(system: &System, images: &Images, diags: &mut Diagnostics) {
    for r in system.all_pds() {
        let pd = r.pd;
        let Some(map) = pd.maps.iter().find(|m| m.setvar_size.as_deref() == Some(IMAGE_SIZE_SETVAR)) else {
            continue;
        };
        let (Some(Ok(image)), Some(region)) = (images.get(&pd.program), system.memory_region(&map.mr)) else {
            continue; // The layout pass notes images it could not read.
        };
        let needed = ImageLayout::new(image.writable.iter().copied())
            .map(|layout| layout.image_len() as u64)
            .map_err(|e| e.to_string());
        if needed.as_ref().map_or(true, |n| *n > region.size) {
            let issue = CheckpointIssue { pd: pd.name.to_string(), mr: map.mr.clone(), size: region.size, needed };
            diags.push(issue, map.span);
        }
    }
}
