//! `fwp_manager.bin`: what the FWP manager (the root task) needs to create
//! the dynamic FWPs, from the same [`ManagerPlan`] as the mux's blob.
//!
//! PDs are named by the index the Microkit tool gives them
//! ([`System::pd_index`]): the root task finds each PD's objects in the
//! spec by its scheduling context's badge, 0x100 + index.

use edgeos_config::{ManagedFwp, ManagedTemplate, ManagerConfig, Region, REGION_COUNT};

use super::{id, len, manager_signal};
use crate::config::Loaded;
use crate::generate::manager::{prototype, ManagerPlan};
use crate::generate::{SlotPlan, MUX};
use crate::model::System;

/// The sizes of the regions a slot of `plan`'s template shares with the
/// mux, in [`REGION_COUNT`] order.
fn shared_sizes(loaded: &Loaded, plan: &SlotPlan<'_>) -> Result<[u32; REGION_COUNT], String> {
    let t = plan.template;
    let ring = len(loaded.config.rings.queue_size, "ring", plan)?;
    Ok([
        len(t.ctrl_size, "control region", plan)?,
        ring,
        ring,
        ring,
        ring,
        len(t.rx_buffers_size, "rx buffer region", plan)?,
        len(t.tx_buffers_size, "tx buffer region", plan)?,
    ])
}

fn pd_index(system: &System, name: &str) -> Result<u16, String> {
    let index = system.pd_index(name).ok_or_else(|| format!("no PD '{name}' in the generated system"))?;
    u16::try_from(index).map_err(|_| format!("PD '{name}''s index {index} does not fit the blob"))
}

/// The manager's configuration for `loaded`, whose generated system is
/// `system` and whose dynamic FWPs `dynamic` places.
pub fn manager_config(loaded: &Loaded, system: &System, dynamic: &ManagerPlan<'_>) -> Result<ManagerConfig, String> {
    let mut config = ManagerConfig {
        mux_pd: pd_index(system, MUX)?,
        mux_signal: manager_signal(dynamic)?,
        comm: dynamic.comm,
        templates: heapless::Vec::new(),
        fwps: heapless::Vec::new(),
    };
    // The templates with dynamic FWPs, in template order; `ManagedFwp::template`
    // counts among these.
    let mut managed: Vec<usize> = dynamic.fwps.iter().map(|f| f.template_index).collect();
    managed.dedup();
    for &t in &managed {
        let proto = prototype(loaded, t).ok_or_else(|| format!("template {t} has dynamic FWPs but no slot"))?;
        let sizes = shared_sizes(loaded, &proto)?;
        let offsets = proto.window.shared();
        let regions = core::array::from_fn(|i| Region { vaddr: proto.slot_vaddr(offsets[i]), size: sizes[i] });
        let template = ManagedTemplate { prototype_pd: pd_index(system, &proto.name())?, regions };
        config.templates.push(template).map_err(|_| "more templates with dynamic FWPs than the manager's blob holds".to_string())?;
    }
    for fwp in &dynamic.fwps {
        let template = managed.iter().position(|&t| t == fwp.template_index).unwrap_or_default();
        let offsets = fwp.window.shared();
        let entry = ManagedFwp {
            template: id(template as u64, "template", fwp)?,
            signal: id(fwp.channel, "channel id", fwp)?,
            mux: offsets.map(|offset| fwp.mux_vaddr(offset)),
        };
        config.fwps.push(entry).map_err(|_| format!("more dynamic FWPs than the manager's blob holds ({})", edgeos_config::MAX_MANAGED_FWPS))?;
    }
    Ok(config)
}
