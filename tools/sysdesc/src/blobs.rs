//! The configuration blobs: what the mux and each FWP slot read at start,
//! written with `edgeos-config` (the crate the PDs parse them with) from the
//! same configuration and the same [`slot_plans`] as the system description.
//!
//! - `mux_config.bin` ([`MuxConfig`]): the system's IPv4 and MAC address,
//!   the stats port, per template its service, spawn policy and limits and
//!   its template PD's ids, control region and rings *in the mux*, and per
//!   slot its template, child id, channel id and the addresses of its
//!   regions in the mux (control region, the four rings, the rx and tx
//!   buffer regions with their lengths); after the slots, each dynamic FWP
//!   in its order `k`, with the channel id it signals on and its window's
//!   addresses, and where the page shared with the FWP manager is and on
//!   which id the manager signals;
//! - `fwp_manager.bin` (`edgeos_config::ManagerConfig`, when a template has
//!   dynamic FWPs; see [`manager_config`]): what the root task needs to
//!   create them;
//! - `tmpl_<name>_config.bin` ([`TenantConfig`]): the network settings and
//!   the template's service, read by the template PD (its slots run on its
//!   checkpoint and read nothing).
//!
//! The generated `system.xml` prefills the regions `mux_config`,
//! `fwp_manager` and `tmpl_<name>_config` from these files (`prefill_path`,
//! found through the Microkit tool's search paths). The bytes are a pure
//! function of the configuration.

mod manager;

use edgeos_config::{ManagerLink, MuxConfig, Protocol as BlobProtocol, Protocols, SlotLayout, SlotService, TemplateLayout, TenantConfig};

pub use manager::manager_config;

use crate::config::{Loaded, Overflow, Protocol, Spawn};
use crate::generate::manager::{self as plan, ManagerPlan, FWP_MANAGER_FILE};
use crate::generate::{config_region_size, slot_plans, template_plans, Role, SlotPlan, MUX_CONFIG_FILE};

/// One blob: the file name the system description prefills from, and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    /// The file name (`mux_config.bin`, `fwp_00_config.bin`, ...).
    pub file: String,
    /// Its contents.
    pub bytes: Vec<u8>,
}

/// Bytes of the mux's blob for `templates` templates and `slots` slots
/// (dynamic FWPs included), at most what the blob holds: a configuration
/// asking for more is refused.
pub fn mux_config_len(templates: u64, slots: u64) -> u64 {
    let templates = templates.min(edgeos_config::MAX_TEMPLATES as u64) as usize;
    let slots = slots.min(edgeos_config::MAX_SLOTS as u64) as usize;
    MuxConfig::len_for(templates, slots) as u64
}

fn protocol(p: Protocol) -> BlobProtocol {
    match p {
        Protocol::Udp => BlobProtocol::Udp,
        Protocol::Tcp => BlobProtocol::Tcp,
    }
}

/// A slot's template's services as the blobs carry them: one port over
/// one or both protocols.
fn service(plan: &SlotPlan<'_>) -> Result<SlotService, String> {
    let t = plan.template;
    let protocols = Protocols::of(t.services.iter().map(|s| protocol(s.protocol)));
    match (t.serves_one_port(), t.services.first(), protocols) {
        (true, Some(s), Some(protocols)) => Ok(SlotService { protocols, port: s.port, last_port: s.last() }),
        _ => Err(format!(
            "template '{}' of {} has {} services; its blobs need one port over tcp, udp or both",
            t.name,
            plan.name(),
            t.services.len()
        )),
    }
}

fn id(value: u64, what: &str, plan: &SlotPlan<'_>) -> Result<u8, String> {
    u8::try_from(value).map_err(|_| format!("{}'s {what} {value} does not fit the blob", plan.name()))
}

fn count(value: u64, what: &str, plan: &SlotPlan<'_>) -> Result<u16, String> {
    u16::try_from(value).map_err(|_| format!("{}'s {what} {value} does not fit the blob", plan.name()))
}

fn len(value: u64, what: &str, plan: &SlotPlan<'_>) -> Result<u32, String> {
    u32::try_from(value).map_err(|_| {
        format!(
            "{}'s {what} length {value:#x} does not fit the blob's 32 bits",
            plan.name()
        )
    })
}

/// The manager's channel id to the mux, as both blobs carry it.
fn manager_signal(plan: &ManagerPlan<'_>) -> Result<u8, String> {
    u8::try_from(plan.signal).map_err(|_| "the manager's channel id does not fit the blob".to_string())
}

/// Template `plan`'s layout in the mux's blob.
fn template_layout(plan: &SlotPlan<'_>) -> Result<TemplateLayout, String> {
    let t = plan.template;
    let service = service(plan)?;
    let warm_pool = match t.spawn {
        Spawn::OnDemand => 0,
        Spawn::WarmPool { pool_size } => pool_size,
    };
    Ok(TemplateLayout {
        service,
        per_flow: t.per_flow,
        renew: t.renew,
        middlebox: t.click.is_some(),
        share_overflow: t.overflow == Overflow::Share,
        warm_pool: count(warm_pool, "warm pool", plan)?,
        max_active: count(t.max_active(), "max_active", plan)?,
        idle_timeout_ms: len(t.idle_timeout_ms, "idle timeout", plan)?,
        child_id: id(plan.child_id, "child id", plan)?,
        channel: id(plan.channel, "channel id", plan)?,
        ctrl: plan.mux_vaddr(plan.window.ctrl),
        rings: plan.window.rings.map(|offset| plan.mux_vaddr(offset)),
    })
}

/// Slot or dynamic FWP `plan`'s layout in the mux's blob.
fn slot_layout(plan: &SlotPlan<'_>) -> Result<SlotLayout, String> {
    let w = &plan.window;
    let dynamic = match plan.role {
        Role::Dynamic => Some(u16::try_from(plan.index).map_err(|_| format!("{} does not fit the blob", plan.name()))?),
        _ => None,
    };
    Ok(SlotLayout {
        template: id(plan.template_index as u64, "template", plan)?,
        child_id: id(plan.child_id, "child id", plan)?,
        channel: id(plan.channel, "channel id", plan)?,
        ctrl: plan.mux_vaddr(w.ctrl),
        rings: w.rings.map(|offset| plan.mux_vaddr(offset)),
        rx_buf: (plan.mux_vaddr(w.rx_buf), len(plan.template.rx_buffers_size, "rx buffer region", plan)?),
        tx_buf: (plan.mux_vaddr(w.tx_buf), len(plan.template.tx_buffers_size, "tx buffer region", plan)?),
        dynamic,
    })
}

/// The mux's configuration for `loaded`, whose dynamic FWPs (if any) are
/// `dynamic`; why not, when a slot cannot be described (the
/// configuration's checks report the same things first).
pub fn mux_config(loaded: &Loaded, dynamic: Option<&ManagerPlan<'_>>) -> Result<MuxConfig, String> {
    let c = &loaded.config;
    let mut config = MuxConfig {
        ip: c.network.address.address.octets(),
        mac: c.network.mac.0,
        stats_port: c.mux.stats_port,
        timer_channel: match (&c.timer, loaded.board.timer_irq) {
            (Some(_), Some(_)) => Some(u8::try_from(crate::generate::timer_channel(loaded)).map_err(|_| "the timer's channel id does not fit the blob".to_string())?),
            _ => None,
        },
        templates: heapless::Vec::new(),
        slots: heapless::Vec::new(),
        manager: match dynamic {
            Some(plan) => Some(ManagerLink { comm: plan.comm, signal: manager_signal(plan)? }),
            None => None,
        },
    };
    let templates = template_plans(loaded);
    for plan in &templates {
        if config.templates.push(template_layout(plan)?).is_err() {
            return Err(format!(
                "{} templates; the mux's blob holds at most {}",
                templates.len(),
                edgeos_config::MAX_TEMPLATES
            ));
        }
    }
    // Static slots first, exactly as without dynamic FWPs, then dynamic FWP
    // k at slot index (static slots + k).
    let mut slots = slot_plans(loaded);
    slots.extend(dynamic.into_iter().flat_map(|plan| plan.fwps.iter().cloned()));
    for plan in &slots {
        if config.slots.push(slot_layout(plan)?).is_err() {
            return Err(format!(
                "{} slots; the mux's blob holds at most {}",
                slots.len(),
                edgeos_config::MAX_SLOTS
            ));
        }
    }
    Ok(config)
}

/// Template PD `plan`'s configuration.
pub fn tenant_config(loaded: &Loaded, plan: &SlotPlan<'_>) -> Result<TenantConfig, String> {
    let net = &loaded.config.network;
    let s = service(plan)?;
    let template = plan.template;
    if template.has_store() && template.max_connections() == 0 {
        return Err(format!("{}: a store is served over at least one connection (max_connections)", plan.name()));
    }
    Ok(TenantConfig {
        ip: net.address.address.octets(),
        prefix_len: net.address.prefix,
        gateway: net.gateway.octets(),
        mac: net.mac.0,
        protocols: s.protocols,
        port: s.port,
        last_port: s.last_port,
        probes: plan.template.test_probes,
        item_size_max: len(plan.template.item_size_max, "item size limit", plan)?,
        per_flow: plan.template.per_flow,
        click_len: match click_text(loaded, plan)? {
            Some(text) => u32::try_from(text.len()).map_err(|_| format!("{}'s Click configuration is too long", plan.name()))?,
            None => 0,
        },
        max_connections: u32::try_from(template.max_connections())
            .map_err(|_| format!("{}'s max_connections does not fit the blob's 32 bits", plan.name()))?,
        store_size: template.store_size(),
    })
}

/// Template `plan`'s Click configuration text, as `config::load` read it.
fn click_text<'a>(loaded: &'a Loaded, plan: &SlotPlan<'_>) -> Result<Option<&'a str>, String> {
    let Some(file) = &plan.template.click else { return Ok(None) };
    loaded.click.get(&plan.template.name).map(|text| Some(text.as_str())).ok_or_else(|| {
        format!("template '{}': its Click configuration {file} was not read with the configuration", plan.template.name)
    })
}

fn emit(
    file: String,
    len: usize,
    emit: impl FnOnce(&mut [u8]) -> Result<usize, edgeos_config::ConfigError>,
) -> Result<Blob, String> {
    let mut bytes = vec![0u8; len];
    let written = emit(&mut bytes).map_err(|e| format!("{file}: {e}"))?;
    bytes.truncate(written);
    Ok(Blob { file, bytes })
}

/// Every blob of `loaded`'s system: `mux_config.bin`, `fwp_manager.bin`
/// when it has dynamic FWPs, then each template PD's
/// `tmpl_<name>_config.bin` in template order.
pub fn blobs(loaded: &Loaded) -> Result<Vec<Blob>, String> {
    // The manager's blob numbers PDs as the Microkit tool does, in the
    // system the configuration generates.
    let system = crate::generate::generate(loaded);
    let dynamic = plan::plan(loaded, &system).map_err(|e| e.to_string())?;
    let mux = mux_config(loaded, dynamic.as_ref())?;
    let mut out = vec![emit(MUX_CONFIG_FILE.to_string(), mux.buffer_len(), |b| {
        mux.emit(b)
    })?];
    if let Some(plan) = &dynamic {
        let manager = manager_config(loaded, &system, plan)?;
        let mut blob = emit(FWP_MANAGER_FILE.to_string(), manager.buffer_len(), |b| manager.emit(b))?;
        // The whole region, the shared page's zeros included: the Microkit
        // tool (2.3.0) panics on a prefill file that ends before its
        // region's last page.
        blob.bytes.resize(plan::region_size(loaded.board.small_page()) as usize, 0);
        out.push(blob);
    }
    for plan in template_plans(loaded) {
        let tenant = tenant_config(loaded, &plan)?;
        let mut blob = emit(plan.config_file(), TenantConfig::BUFFER_LEN, |b| tenant.emit(b))?;
        // The Click text follows the blob (`TenantConfig::click_text`).
        blob.bytes.extend_from_slice(click_text(loaded, &plan)?.unwrap_or_default().as_bytes());
        let region = config_region_size(loaded.board.small_page()) as usize;
        if blob.bytes.len() > region {
            return Err(format!(
                "template '{}': its Click configuration is {} bytes; the configuration region holds {}",
                plan.template.name,
                blob.bytes.len() - TenantConfig::BUFFER_LEN,
                region - TenantConfig::BUFFER_LEN
            ));
        }
        // The whole region: the Microkit tool (2.3.0) panics on a prefill
        // file that ends before its region's last page.
        blob.bytes.resize(region, 0);
        out.push(blob);
    }
    Ok(out)
}
