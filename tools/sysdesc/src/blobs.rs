//! The configuration blobs: what the mux and each FWP slot read at start,
//! written with `edgeos-config` (the crate the PDs parse them with) from the
//! same configuration and the same [`slot_plans`] as the system description.
//!
//! - `mux_config.bin` ([`MuxConfig`]): the system's IPv4 and MAC address,
//!   the stats port, and per slot its service, child id, channel id and the
//!   addresses of its regions *in the mux* (control region, the four rings,
//!   the rx and tx buffer regions with their lengths);
//! - `fwp_NN_config.bin` ([`TenantConfig`]): the network settings and the
//!   slot's service.
//!
//! The generated `system.xml` prefills the regions `mux_config` and
//! `fwp_NN_config` from these files (`prefill_path`, found through the
//! Microkit tool's search paths). The bytes are a pure function of the
//! configuration.

use edgeos_config::{MuxConfig, Protocol as BlobProtocol, SlotLayout, SlotService, TenantConfig};

use crate::config::{Loaded, Protocol, Service};
use crate::generate::{slot_plans, SlotPlan, MUX_CONFIG_FILE};

/// One blob: the file name the system description prefills from, and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    /// The file name (`mux_config.bin`, `fwp_00_config.bin`, ...).
    pub file: String,
    /// Its contents.
    pub bytes: Vec<u8>,
}

/// Bytes of the mux's blob for `slots` slots: the blob's header and
/// addresses, and one `SlotLayout` per slot (as `MuxConfig::buffer_len`
/// counts them).
pub fn mux_config_len(slots: usize) -> u64 {
    let empty = MuxConfig {
        ip: [0; 4],
        mac: [0; 6],
        stats_port: 0,
        slots: heapless::Vec::new(),
    };
    let mut one = empty.clone();
    let slot = SlotLayout {
        service: None,
        child_id: 0,
        channel: 0,
        ctrl: 0,
        rings: [0; 4],
        rx_buf: (0, 0),
        tx_buf: (0, 0),
    };
    // Capacity is MAX_SLOTS >= 1.
    let _ = one.slots.push(slot);
    let (header, per_slot) = (empty.buffer_len(), one.buffer_len() - empty.buffer_len());
    (header as u64).saturating_add((per_slot as u64).saturating_mul(slots as u64))
}

fn protocol(p: Protocol) -> BlobProtocol {
    match p {
        Protocol::Udp => BlobProtocol::Udp,
        Protocol::Tcp => BlobProtocol::Tcp,
    }
}

/// The one service of a slot's template.
fn service(plan: &SlotPlan<'_>) -> Result<Service, String> {
    match plan.template.services.as_slice() {
        [s] => Ok(*s),
        other => Err(format!(
            "template '{}' of slot {} has {} services; a slot's blob needs exactly one",
            plan.template.name,
            plan.index,
            other.len()
        )),
    }
}

fn id(value: u64, what: &str, plan: &SlotPlan<'_>) -> Result<u8, String> {
    u8::try_from(value)
        .map_err(|_| format!("slot {}'s {what} {value} does not fit the blob", plan.index))
}

fn len(value: u64, what: &str, plan: &SlotPlan<'_>) -> Result<u32, String> {
    u32::try_from(value).map_err(|_| {
        format!(
            "slot {}'s {what} length {value:#x} does not fit the blob's 32 bits",
            plan.index
        )
    })
}

/// The mux's configuration for `loaded`; why not, when a slot cannot be
/// described (the configuration's checks report the same things first).
pub fn mux_config(loaded: &Loaded) -> Result<MuxConfig, String> {
    let c = &loaded.config;
    let plans = slot_plans(loaded);
    let mut config = MuxConfig {
        ip: c.network.address.address.octets(),
        mac: c.network.mac.0,
        stats_port: c.mux.stats_port,
        slots: heapless::Vec::new(),
    };
    for plan in &plans {
        let s = service(plan)?;
        let w = &plan.window;
        let layout = SlotLayout {
            service: Some(SlotService {
                protocol: protocol(s.protocol),
                port: s.port,
            }),
            child_id: id(plan.child_id(), "child id", plan)?,
            channel: id(plan.mux_channel(), "channel id", plan)?,
            ctrl: plan.mux_vaddr(w.ctrl),
            rings: w.rings.map(|offset| plan.mux_vaddr(offset)),
            rx_buf: (
                plan.mux_vaddr(w.rx_buf),
                len(plan.template.rx_buffers_size, "rx buffer region", plan)?,
            ),
            tx_buf: (
                plan.mux_vaddr(w.tx_buf),
                len(plan.template.tx_buffers_size, "tx buffer region", plan)?,
            ),
        };
        if config.slots.push(layout).is_err() {
            return Err(format!(
                "{} slots; the mux's blob holds at most {}",
                plans.len(),
                edgeos_config::MAX_SLOTS
            ));
        }
    }
    Ok(config)
}

/// Slot `plan`'s configuration.
pub fn tenant_config(loaded: &Loaded, plan: &SlotPlan<'_>) -> Result<TenantConfig, String> {
    let net = &loaded.config.network;
    let s = service(plan)?;
    Ok(TenantConfig {
        ip: net.address.address.octets(),
        prefix_len: net.address.prefix,
        gateway: net.gateway.octets(),
        mac: net.mac.0,
        protocol: protocol(s.protocol),
        port: s.port,
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

/// Every blob of `loaded`'s system: `mux_config.bin`, then each slot's
/// `fwp_NN_config.bin` in slot order.
pub fn blobs(loaded: &Loaded) -> Result<Vec<Blob>, String> {
    let mux = mux_config(loaded)?;
    let mut out = vec![emit(MUX_CONFIG_FILE.to_string(), mux.buffer_len(), |b| {
        mux.emit(b)
    })?];
    for plan in slot_plans(loaded) {
        let tenant = tenant_config(loaded, &plan)?;
        out.push(emit(plan.config_file(), TenantConfig::BUFFER_LEN, |b| {
            tenant.emit(b)
        })?);
    }
    Ok(out)
}
