//! Tenant isolation: tenants (FWPs) are untrusted, so what they can map is
//! limited to their own regions, shared with the mux at most.
//!
//! - no memory region is mapped by two tenants, except a template's
//!   checkpoint image: written by its template PD (which never serves a
//!   tenant) and read-only in every other PD that maps it;
//! - a tenant's region is shared with nobody but the mux;
//! - the DMA regions (`net_dma`, `net_virtio_dma`) are mapped only by the
//!   driver and the mux (a tenant seeing them would see every frame);
//! - no device region (one with a `phys_addr`) is mapped into a tenant.

use std::collections::BTreeMap;
use std::fmt;

use super::roles::Roles;
use crate::diagnostic::{Diagnostics, Span};
use crate::generate::{NET_DMA, NET_VIRTIO_DMA, TEMPLATE_PD_PREFIX};
use crate::model::{ProtectionDomain, System};

/// A mapping that breaks isolation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IsolationIssue {
    /// Two tenants map the same region.
    SharedByTenants {
        /// The region.
        mr: String,
        /// The first tenant.
        first: String,
        /// The second tenant.
        second: String,
    },
    /// A tenant's region is also mapped by a PD other than the mux.
    SharedBeyondMux {
        /// The region.
        mr: String,
        /// The tenant.
        tenant: String,
        /// The other PD.
        other: String,
    },
    /// A DMA region mapped by a PD that is neither the driver nor the mux.
    DmaOutsideDriverAndMux {
        /// The region.
        mr: String,
        /// The PD.
        pd: String,
    },
    /// A device region mapped into a tenant.
    DeviceInTenant {
        /// The region.
        mr: String,
        /// Its physical address.
        phys_addr: u64,
        /// The tenant.
        tenant: String,
    },
}

impl fmt::Display for IsolationIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IsolationIssue::SharedByTenants { mr, first, second } => write!(
                f,
                "tenants must not share memory: region '{mr}' is mapped by tenants '{first}' and '{second}'"
            ),
            IsolationIssue::SharedBeyondMux { mr, tenant, other } => write!(
                f,
                "a tenant's region may be shared only with the mux: region '{mr}' of tenant '{tenant}' is also mapped by '{other}'"
            ),
            IsolationIssue::DmaOutsideDriverAndMux { mr, pd } => write!(
                f,
                "DMA regions may be mapped only by the driver and the mux: region '{mr}' is mapped by '{pd}'"
            ),
            IsolationIssue::DeviceInTenant { mr, phys_addr, tenant } => write!(
                f,
                "a device region must not be mapped into a tenant: region '{mr}' (phys_addr {phys_addr:#x}) is mapped by tenant '{tenant}'"
            ),
        }
    }
}

/// Whether the tenants in `list` share `mr` as a checkpoint image: at most
/// one writes it, and that one is a template PD.
fn is_checkpoint(mr: &str, list: &[&(&ProtectionDomain, Span)]) -> bool {
    let writes = |pd: &ProtectionDomain| pd.maps.iter().any(|m| m.mr == mr && m.perms.write);
    let mut writers = list.iter().filter(|(pd, _)| writes(pd));
    match (writers.next(), writers.next()) {
        (None, _) => true,
        (Some((pd, _)), None) => pd.name.as_str().starts_with(TEMPLATE_PD_PREFIX),
        _ => false,
    }
}

fn is_dma(mr: &str) -> bool {
    mr == NET_DMA || mr == NET_VIRTIO_DMA
}

/// Checks what tenants map, and who maps the DMA regions.
pub fn check(system: &System, roles: &Roles<'_>, diags: &mut Diagnostics) {
    // Who maps each region, in document order, with the first map's span.
    let mut mappers: BTreeMap<&str, Vec<(&ProtectionDomain, Span)>> = BTreeMap::new();
    for r in system.all_pds() {
        for m in &r.pd.maps {
            let list = mappers.entry(m.mr.as_str()).or_default();
            if !list.iter().any(|(pd, _)| pd.name == r.pd.name) {
                list.push((r.pd, m.span));
            }
        }
    }
    let is_mux = |pd: &ProtectionDomain| roles.mux.is_some_and(|m| m.name == pd.name);
    for (mr, list) in &mappers {
        let tenants: Vec<_> = list.iter().filter(|(pd, _)| roles.is_tenant(pd)).collect();
        if let Some((first, _)) = tenants.first() {
            let shared = if is_checkpoint(mr, &tenants) { &[][..] } else { &tenants[1..] };
            for (second, span) in shared {
                let issue = IsolationIssue::SharedByTenants {
                    mr: mr.to_string(),
                    first: first.name.to_string(),
                    second: second.name.to_string(),
                };
                diags.push(issue, *span);
            }
            // DMA and device regions have rules of their own, reported below.
            let specific = is_dma(mr)
                || system
                    .memory_region(mr)
                    .is_some_and(|r| r.phys_addr.is_some());
            let others = list
                .iter()
                .filter(|(pd, _)| !specific && !roles.is_tenant(pd) && !is_mux(pd));
            for (other, span) in others {
                let issue = IsolationIssue::SharedBeyondMux {
                    mr: mr.to_string(),
                    tenant: first.name.to_string(),
                    other: other.name.to_string(),
                };
                diags.push(issue, *span);
            }
            if let Some(phys_addr) = system.memory_region(mr).and_then(|r| r.phys_addr) {
                for (tenant, span) in &tenants {
                    let issue = IsolationIssue::DeviceInTenant {
                        mr: mr.to_string(),
                        phys_addr,
                        tenant: tenant.name.to_string(),
                    };
                    diags.push(issue, *span);
                }
            }
        }
        if is_dma(mr) {
            for (pd, span) in list.iter().filter(|(pd, _)| !roles.is_driver_or_mux(pd)) {
                let issue = IsolationIssue::DmaOutsideDriverAndMux {
                    mr: mr.to_string(),
                    pd: pd.name.to_string(),
                };
                diags.push(issue, *span);
            }
        }
    }
}
