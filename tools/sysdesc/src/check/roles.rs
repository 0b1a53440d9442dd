//! Which PD plays which part, recognised from the system's structure:
//!
//! - the **driver** is the PD that has an `<irq>` and maps `net_dma`;
//! - the **mux** is the parent of the FWPs: a PD other than the driver that
//!   has children (one that maps `net_dma` first);
//! - the **tenants** are the mux's children and their descendants.
//!
//! Generated systems follow this shape by construction, so configurations
//! and hand-written files are checked by the same rules.

use crate::generate::NET_DMA;
use crate::model::{ProtectionDomain, System};

/// The PDs in each role, where the system has one.
#[derive(Clone, Debug, Default)]
pub struct Roles<'a> {
    /// The network driver.
    pub driver: Option<&'a ProtectionDomain>,
    /// The multiplexer.
    pub mux: Option<&'a ProtectionDomain>,
    /// Every FWP (tenant) PD.
    pub tenants: Vec<&'a ProtectionDomain>,
}

fn maps(pd: &ProtectionDomain, mr: &str) -> bool {
    pd.maps.iter().any(|m| m.mr == mr)
}

fn descendants<'a>(pd: &'a ProtectionDomain, out: &mut Vec<&'a ProtectionDomain>) {
    for c in &pd.children {
        out.push(&c.pd);
        descendants(&c.pd, out);
    }
}

impl<'a> Roles<'a> {
    /// Recognises the roles in `system`.
    pub fn identify(system: &'a System) -> Roles<'a> {
        let pds: Vec<_> = system.all_pds().into_iter().map(|r| r.pd).collect();
        let driver = pds
            .iter()
            .copied()
            .find(|pd| !pd.irqs.is_empty() && maps(pd, NET_DMA));
        let is_driver = |pd: &ProtectionDomain| driver.is_some_and(|d| d.name == pd.name);
        let parents = || {
            pds.iter()
                .copied()
                .filter(|pd| !pd.children.is_empty() && !is_driver(pd))
        };
        let mux = parents()
            .find(|pd| maps(pd, NET_DMA))
            .or_else(|| parents().next());
        let mut tenants = Vec::new();
        if let Some(mux) = mux {
            descendants(mux, &mut tenants);
        }
        Roles {
            driver,
            mux,
            tenants,
        }
    }

    /// Whether `pd` is a tenant.
    pub fn is_tenant(&self, pd: &ProtectionDomain) -> bool {
        self.tenants.iter().any(|t| t.name == pd.name)
    }

    /// Whether `pd` is the driver or the mux.
    pub fn is_driver_or_mux(&self, pd: &ProtectionDomain) -> bool {
        [self.driver, self.mux]
            .into_iter()
            .flatten()
            .any(|p| p.name == pd.name)
    }
}
