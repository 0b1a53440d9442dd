//! Values a configuration's types accept but no system can have.
//!
//! Limits that belong to the generated system (priorities, budgets, page
//! alignment, Microkit's id and PD limits) are checked on the model by
//! [`crate::check`], which reports them with their exact figures; here are
//! only the rules that the model cannot express.

use std::collections::BTreeMap;

use super::{Config, ConfigIssue, Overflow, Protocol, Service, SpanIndex, Spawn, Template, MAX_SLOTS, MAX_STORE_MB};
use crate::diagnostic::Diagnostics;

/// memcached's smallest item limit (`-I`).
const MIN_ITEM_SIZE_MAX: u64 = 1024;

/// memcached's default item limit (`-I 1m`): the program's own, and the
/// largest a template may ask for.
const MAX_ITEM_SIZE_MAX: u64 = 1 << 20;

/// Largest untagged Ethernet frame without its FCS: a frame buffer must hold one.
const MIN_BUFFER_SIZE: u64 = 1514;

/// Bytes a ring region must hold: one `sel4-shared-ring-buffer`
/// `RawRingBuffer` (two `u32` indices and 512 descriptors of 24 bytes,
/// `RING_BUFFER_SIZE` and `Descriptor` in rust-sel4 v5.0.0), then the
/// consumer's wake flag on the next 64-byte line (`edgeos_pd_ring::WAKE_FLAG_OFFSET`).
const RAW_RING_BUFFER_BYTES: u64 = (4 + 4 + 512 * 24_u64).next_multiple_of(64) + 4;

struct Validator<'a> {
    spans: &'a SpanIndex,
    diags: &'a mut Diagnostics,
    usable: bool,
}

impl Validator<'_> {
    fn impossible(&mut self, field: &str, value: impl ToString, rule: impl Into<String>) {
        let issue = ConfigIssue::Impossible {
            rule: rule.into(),
            field: field.to_string(),
            value: value.to_string(),
        };
        self.diags.push(issue, self.spans.get(field));
    }
}

/// Records every impossible value of `config`; returns whether a system can
/// still be generated from it (false only when generating would be absurd,
/// such as thousands of slots).
pub(super) fn validate(config: &Config, spans: &SpanIndex, diags: &mut Diagnostics) -> bool {
    let mut v = Validator {
        spans,
        diags,
        usable: true,
    };
    network(config, &mut v);
    rings(config, &mut v);
    if config.driver.virtio_dma_size == 0 {
        v.impossible(
            "driver.virtio_dma_size",
            0,
            "the virtio DMA region cannot be empty",
        );
    }
    templates(config, &mut v);
    v.usable
}

fn network(config: &Config, v: &mut Validator<'_>) {
    let net = &config.network;
    if !net.address.contains(net.gateway) {
        v.impossible(
            "network.gateway",
            format!("\"{}\"", net.gateway),
            format!(
                "the gateway must be inside the guest's subnet {}",
                net.address
            ),
        );
    }
    if net.gateway == net.address.address {
        v.impossible(
            "network.gateway",
            format!("\"{}\"", net.gateway),
            "the gateway cannot be the guest's own address",
        );
    }
}

fn rings(config: &Config, v: &mut Validator<'_>) {
    let r = &config.rings;
    if r.buffer_size < MIN_BUFFER_SIZE {
        v.impossible(
            "rings.buffer_size",
            r.buffer_size,
            format!("a frame buffer must hold a {MIN_BUFFER_SIZE}-byte Ethernet frame"),
        );
    } else if r.net_dma_size == 0 || r.net_dma_size % r.buffer_size != 0 {
        v.impossible(
            "rings.net_dma_size",
            format!("{:#x}", r.net_dma_size),
            format!(
                "net_dma must be a non-zero multiple of rings.buffer_size ({})",
                r.buffer_size
            ),
        );
    }
    if r.queue_size < RAW_RING_BUFFER_BYTES {
        v.impossible(
            "rings.queue_size",
            format!("{:#x}", r.queue_size),
            format!("a ring region must hold a RawRingBuffer and its wake flag ({RAW_RING_BUFFER_BYTES} bytes)"),
        );
    }
}

fn templates(config: &Config, v: &mut Validator<'_>) {
    let mut names = BTreeMap::new();
    let mut services: Vec<((usize, usize), Service)> = Vec::new();
    let mut total_slots: u64 = 0;
    let mut total_dynamic: u64 = 0;
    for (i, t) in config.templates.iter().enumerate() {
        let at = |field: &str| format!("templates[{i}].{field}");
        let name_ok = !t.name.is_empty()
            && t.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok {
            v.impossible(
                &at("name"),
                format!("\"{}\"", t.name),
                "a template name is lower-case letters, digits and '_'",
            );
        }
        if let Some(first) = names.insert(t.name.clone(), i) {
            v.impossible(
                &at("name"),
                format!("\"{}\"", t.name),
                format!("template names must be unique (also templates[{first}])"),
            );
        }
        if t.program.is_empty() {
            v.impossible(&at("program"), "\"\"", "a template needs a program ELF");
        }
        if t.renew && t.dynamic == 0 {
            v.impossible(
                &at("renew"),
                "true",
                "only FWPs the manager creates (`dynamic`) can be destroyed and created anew; this template has none",
            );
        }
        if t.best_effort && t.budget != t.period {
            v.impossible(
                &at("budget"),
                t.budget,
                format!("a best-effort template's budget is its period ({}): it reserves nothing", t.period),
            );
        }
        let lowest_reserved = [config.driver.priority, config.mux.priority]
            .into_iter()
            .chain(config.templates.iter().filter(|t| !t.best_effort).map(|t| t.priority))
            .min()
            .unwrap_or(u64::MAX);
        if t.best_effort && t.priority >= lowest_reserved {
            v.impossible(
                &at("priority"),
                t.priority,
                format!("a best-effort template runs below every reservation (priority < {lowest_reserved})"),
            );
        }
        if t.slots == 0 && t.dynamic > 0 {
            v.impossible(
                &at("dynamic"),
                t.dynamic,
                "dynamic FWPs are clones of the template's first slot PD (its prototype): a template with dynamic FWPs needs slots >= 1",
            );
        } else if t.slots == 0 {
            v.impossible(&at("slots"), 0, "a template needs at least one slot");
        }
        total_slots = total_slots.saturating_add(t.slots);
        total_dynamic = total_dynamic.saturating_add(t.dynamic);
        if t.ctrl_size == 0 {
            v.impossible(
                &at("ctrl_size"),
                0,
                "the control region cannot be empty (it holds the ready block)",
            );
        }
        if let Spawn::WarmPool { pool_size } = t.spawn {
            if pool_size == 0 || pool_size > t.fwps() {
                v.impossible(
                    &at("spawn.pool_size"),
                    pool_size,
                    format!(
                        "a warm pool holds between 1 and the template's FWPs, slots and dynamic ({})",
                        t.fwps()
                    ),
                );
            }
        }
        if t.services.is_empty() {
            v.impossible(
                &at("services"),
                "[]",
                "every template needs one service: the mux spawns its FWPs for packets to it",
            );
        } else if !t.serves_one_port() {
            v.impossible(
                &at("services"),
                format!("{} services", t.services.len()),
                "a template answers one port, over tcp, udp or both: at most one service per protocol, all on the same port",
            );
        }
        if let Some(max) = t.max_active {
            if max == 0 || max > t.fwps() || max > 255 {
                v.impossible(
                    &at("max_active"),
                    max,
                    format!("between 1 and the template's FWPs, slots and dynamic ({})", t.fwps()),
                );
            }
        }
        memcached(t, v, &at);
        if t.idle_timeout_ms > u64::from(u32::MAX) {
            v.impossible(&at("idle_timeout_ms"), t.idle_timeout_ms, "at most 2^32 - 1 ms");
        }
        if t.image_size < 0x1000 {
            v.impossible(
                &at("image_size"),
                format!("{:#x}", t.image_size),
                "a checkpoint image holds a header and the program's writable segments: at least a page",
            );
        }
        for (field, size) in [
            ("rx_buffers_size", t.rx_buffers_size),
            ("tx_buffers_size", t.tx_buffers_size),
        ] {
            buffers_size(config, v, &at(field), size);
        }
        if t.overflow == Overflow::Share && !t.per_flow {
            v.impossible(
                &at("overflow"),
                "\"share\"",
                "only a per-flow template's overflow can share a serving FWP (its one FWP serves the whole service otherwise); set per_flow = true",
            );
        }
        if t.click.is_some() && !t.per_flow {
            v.impossible(
                &at("click"),
                format!("\"{}\"", t.click.as_deref().unwrap_or_default()),
                "a Click template runs one chain per flow: it needs per_flow = true",
            );
        }
        for (j, s) in t.services.iter().enumerate() {
            let field = at(&format!("services[{j}].port"));
            if s.port == 0 {
                v.impossible(&field, 0, "a service port is 1 to 65535");
            }
            if s.last() < s.port {
                v.impossible(
                    &at(&format!("services[{j}].last_port")),
                    s.last(),
                    format!("a port range ends at or after its first port ({})", s.port),
                );
            } else if s.last() != s.port && !t.per_flow {
                v.impossible(
                    &at(&format!("services[{j}].last_port")),
                    s.last(),
                    "only a per-flow template answers a port range (one FWP per flow); set per_flow = true",
                );
            }
            if let Some((other, _)) = services.iter().find(|(_, o)| o.overlaps(s)) {
                v.impossible(
                    &field,
                    s.port,
                    format!(
                        "each {} port is served by one template (also templates[{}].services[{}])",
                        s.protocol, other.0, other.1
                    ),
                );
            }
            services.push(((i, j), *s));
        }
    }
    let stats_port = config.mux.stats_port;
    let stats = Service { protocol: Protocol::Udp, port: stats_port, last_port: None };
    if let Some(((i, j), _)) = services.iter().find(|(_, s)| s.overlaps(&stats)).filter(|_| stats_port != 0) {
        v.impossible(
            "mux.stats_port",
            stats_port,
            format!(
                "the mux answers its counters on this UDP port, so no template may serve it (templates[{i}].services[{j}] does)"
            ),
        );
    }
    // Each template also has its template PD.
    let children = total_slots.saturating_add(config.templates.len() as u64);
    if children > MAX_SLOTS {
        v.impossible(
            "templates",
            format!("{children} slots and template PDs in all"),
            format!("more FWP slots and template PDs than Microkit allows next to the driver, the mux and the timer ({MAX_SLOTS})"),
        );
        v.usable = false;
    } else if config.templates.len() > edgeos_config::MAX_TEMPLATES {
        v.impossible(
            "templates",
            format!("{} templates", config.templates.len()),
            format!("the mux routes at most {} templates (edgeos_config::MAX_TEMPLATES)", edgeos_config::MAX_TEMPLATES),
        );
    } else if total_slots.saturating_add(total_dynamic) > edgeos_config::MUX_SLOT_CAPACITY as u64 {
        v.impossible(
            "templates",
            format!("{total_slots} slots and {total_dynamic} dynamic FWPs in all"),
            format!(
                "the mux drives at most {} FWPs, slots and dynamic (edgeos_config::MUX_SLOT_CAPACITY)",
                edgeos_config::MUX_SLOT_CAPACITY
            ),
        );
    }
    if total_dynamic > edgeos_config::MAX_MANAGED_FWPS as u64 {
        v.impossible(
            "templates",
            format!("{total_dynamic} dynamic FWPs in all"),
            format!(
                "the FWP manager's blob lists at most {} dynamic FWPs (edgeos_config::MAX_MANAGED_FWPS)",
                edgeos_config::MAX_MANAGED_FWPS
            ),
        );
        v.usable = false;
    }
}

/// A memcached template's store, connections and item limit (memcached's
/// `-m`, `-c` and `-I`), and the private region they size.
fn memcached(t: &Template, v: &mut Validator<'_>, at: &dyn Fn(&str) -> String) {
    let store_field = if t.store_kb > 0 { "store_kb" } else { "store_mb" };
    if t.store_mb > 0 && t.store_kb > 0 {
        v.impossible(
            &at("store_kb"),
            t.store_kb,
            format!("a store is given once, in MiB or in KiB: keep store_mb ({}) or store_kb, and remove the other", t.store_mb),
        );
    }
    if t.store_mb > MAX_STORE_MB {
        v.impossible(
            &at("store_mb"),
            t.store_mb,
            format!("a store is 1 to {MAX_STORE_MB} MiB (memcached's -m; items are addressed by 32-bit offsets)"),
        );
    }
    if t.store_kb > MAX_STORE_MB * 1024 {
        v.impossible(
            &at("store_kb"),
            t.store_kb,
            format!("a store is 1 to {} KiB ({MAX_STORE_MB} MiB; items are addressed by 32-bit offsets)", MAX_STORE_MB * 1024),
        );
    }
    if t.has_store() && t.memory_size > 0 {
        v.impossible(
            &at("memory_size"),
            format!("{:#x}", t.memory_size),
            format!(
                "a memcached template's private region is its store ({store_field}) and its connections (max_connections): keep {store_field} and remove memory_size, which sizes the region of a template without a store"
            ),
        );
    }
    match t.max_connections {
        Some(n) if !t.has_store() => v.impossible(
            &at("max_connections"),
            n,
            "max_connections (memcached's -c) is a memcached template's: it needs a store (store_mb)",
        ),
        Some(n) if n == 0 || n > edgeos_memcache_server::MAX_CONNECTIONS as u64 => v.impossible(
            &at("max_connections"),
            n,
            format!(
                "a memcached template serves 1 to {} TCP connections at once (edgeos_memcache_server::MAX_CONNECTIONS)",
                edgeos_memcache_server::MAX_CONNECTIONS
            ),
        ),
        _ => {}
    }
    let (store, store_is) = if t.has_store() {
        (t.store_size(), format!("the store ({store_field}, {:#x} bytes)", t.store_size()))
    } else {
        (t.memory_size, format!("the store, the private memory ({:#x} bytes)", t.memory_size))
    };
    if t.item_size_max != 0 && !(MIN_ITEM_SIZE_MAX..=MAX_ITEM_SIZE_MAX).contains(&t.item_size_max) {
        v.impossible(
            &at("item_size_max"),
            format!("{:#x}", t.item_size_max),
            format!(
                "an item limit is 0 (the program's own, 1 MiB) or {MIN_ITEM_SIZE_MAX:#x} to {MAX_ITEM_SIZE_MAX:#x} bytes (1 KiB, memcached's smallest -I, to 1 MiB, its default and this program's largest)"
            ),
        );
    } else if t.item_size_max > store {
        v.impossible(
            &at("item_size_max"),
            format!("{:#x}", t.item_size_max),
            format!("an item limit fits {store_is}"),
        );
    } else if t.item_size_max == 0 && t.has_store() && store < MAX_ITEM_SIZE_MAX {
        v.impossible(
            &at("item_size_max"),
            0,
            format!(
                "the program's own item limit (1 MiB) does not fit {store_is}: give an item_size_max of {MIN_ITEM_SIZE_MAX:#x} to {store:#x}"
            ),
        );
    }
}

/// A slot's rx or tx buffer region: whole frame buffers, and a length the
/// mux's configuration blob can record (32 bits). Page alignment is checked
/// on the generated model, with the other region sizes.
fn buffers_size(config: &Config, v: &mut Validator<'_>, field: &str, size: u64) {
    let buffer = config.rings.buffer_size;
    if size == 0 || (buffer >= MIN_BUFFER_SIZE && size % buffer != 0) {
        v.impossible(
            field,
            format!("{size:#x}"),
            format!("a slot's buffer region must be a non-zero multiple of rings.buffer_size ({buffer})"),
        );
    } else if size > u64::from(u32::MAX) {
        v.impossible(
            field,
            format!("{size:#x}"),
            "the mux's configuration blob records a buffer region's length in 32 bits",
        );
    }
}
