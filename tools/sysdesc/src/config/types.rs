//! The configuration's serde types, field by field. Defaults are the values
//! of the system as it boots today; `tools/sysdesc/README.md` documents each.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::Deserialize;

use crate::model::DEFAULT_STACK_SIZE;

/// The whole `system.toml`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Microkit board name; must be in [`crate::boards::BOARDS`].
    #[serde(default = "default_board")]
    pub board: String,
    /// The guest's network settings.
    #[serde(default)]
    pub network: Network,
    /// The network driver PD.
    pub driver: DriverConfig,
    /// The multiplexer PD.
    pub mux: MuxConfig,
    /// The timer driver PD; without it, FWPs are never torn down on idle.
    #[serde(default)]
    pub timer: Option<TimerConfig>,
    /// The driver-mux rings and their buffers.
    #[serde(default)]
    pub rings: Rings,
    /// FWP templates, each instantiated as `slots` child PDs of the mux.
    #[serde(default)]
    pub templates: Vec<Template>,
}

fn default_board() -> String {
    "qemu_virt_aarch64".to_string()
}

/// `[network]`
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// The guest's address and prefix, `10.0.2.15/24` by default (QEMU user networking).
    #[serde(default = "default_address")]
    pub address: Ipv4Cidr,
    /// The gateway, `10.0.2.2` by default; must be inside `address`'s subnet.
    #[serde(default = "default_gateway")]
    pub gateway: Ipv4Addr,
    /// The MAC address QEMU gives the virtio-net device, `52:54:00:12:34:56`
    /// (QEMU's default for the first NIC) by default. The configuration blobs
    /// carry it: tenants' frames must have it, and the mux compares it with
    /// the one the driver reads from the device.
    #[serde(default = "default_mac")]
    pub mac: MacAddr,
}

fn default_address() -> Ipv4Cidr {
    Ipv4Cidr {
        address: Ipv4Addr::new(10, 0, 2, 15),
        prefix: 24,
    }
}

fn default_gateway() -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 2, 2)
}

fn default_mac() -> MacAddr {
    MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])
}

impl Default for Network {
    fn default() -> Self {
        Network {
            address: default_address(),
            gateway: default_gateway(),
            mac: default_mac(),
        }
    }
}

/// `[driver]`
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DriverConfig {
    /// ELF file name in the search path.
    #[serde(default = "default_driver_program")]
    pub program: String,
    /// Priority, 0 to 254.
    pub priority: u64,
    /// Budget in µs.
    pub budget: u64,
    /// Period in µs.
    pub period: u64,
    /// Stack size in bytes.
    #[serde(default = "default_stack_size")]
    pub stack_size: u64,
    /// Size of `net_virtio_dma`, virtio-drivers' queues and buffers.
    #[serde(default = "default_dma_size")]
    pub virtio_dma_size: u64,
}

fn default_driver_program() -> String {
    "net_driver.elf".to_string()
}

fn default_stack_size() -> u64 {
    DEFAULT_STACK_SIZE
}

fn default_dma_size() -> u64 {
    0x20_0000
}

/// `[timer]`: the timer driver, which the mux calls for idle timeouts.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TimerConfig {
    /// ELF file name in the search path.
    #[serde(default = "default_timer_program")]
    pub program: String,
    /// Priority, 0 to 254: above the mux, which calls it.
    pub priority: u64,
    /// Budget in µs.
    pub budget: u64,
    /// Period in µs.
    pub period: u64,
    /// Stack size in bytes.
    #[serde(default = "default_stack_size")]
    pub stack_size: u64,
}

fn default_timer_program() -> String {
    "timer.elf".to_string()
}

/// `[mux]`
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MuxConfig {
    /// ELF file name in the search path.
    #[serde(default = "default_mux_program")]
    pub program: String,
    /// Priority, 0 to 254.
    pub priority: u64,
    /// Budget in µs.
    pub budget: u64,
    /// Period in µs.
    pub period: u64,
    /// Stack size in bytes.
    #[serde(default = "default_stack_size")]
    pub stack_size: u64,
    /// UDP port on which the mux answers with its counters; 0 for none.
    #[serde(default = "default_stats_port")]
    pub stats_port: u16,
}

fn default_mux_program() -> String {
    "mux.elf".to_string()
}

fn default_stats_port() -> u16 {
    7777
}

/// `[rings]`
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Rings {
    /// Bytes per frame buffer in `net_dma`.
    #[serde(default = "default_buffer_size")]
    pub buffer_size: u64,
    /// Size of `net_dma`, the frame buffers the mux lends the driver.
    #[serde(default = "default_dma_size")]
    pub net_dma_size: u64,
    /// Size of each ring region (`net_{rx,tx}_{free,used}`).
    #[serde(default = "default_queue_size")]
    pub queue_size: u64,
}

fn default_buffer_size() -> u64 {
    2048
}

fn default_queue_size() -> u64 {
    0x4000
}

impl Default for Rings {
    fn default() -> Self {
        Rings {
            buffer_size: default_buffer_size(),
            net_dma_size: default_dma_size(),
            queue_size: default_queue_size(),
        }
    }
}

/// `[[templates]]`: one FWP template and its slots.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The template's name (lower-case letters, digits, `_`).
    pub name: String,
    /// ELF file name in the search path.
    pub program: String,
    /// Priority of each slot, 0 to 254.
    pub priority: u64,
    /// Budget of each slot in µs.
    pub budget: u64,
    /// Period of each slot in µs.
    pub period: u64,
    /// The template's FWPs reserve no CPU: `budget` equals `period`, and
    /// `priority` is below every reservation's, so they take only the time
    /// the reserved PDs leave and are left out of the utilisation bound.
    #[serde(default)]
    pub best_effort: bool,
    /// Stack size of the template PD, which runs the template's
    /// initialisation, and of each slot unless `fwp_stack_size` says otherwise.
    #[serde(default = "default_stack_size")]
    pub stack_size: u64,
    /// Stack size of each slot (and so of each dynamic FWP, a clone of the
    /// first slot): the serving loop's stack. Slots never run the
    /// initialisation (they start restored from the checkpoint), so a
    /// template whose initialisation builds large values on its stack can
    /// keep a small stack in every FWP. `stack_size` when not given.
    #[serde(default)]
    pub fwp_stack_size: Option<u64>,
    /// Size of each slot's control region (slot rw, mux r).
    #[serde(default = "default_ctrl_size")]
    pub ctrl_size: u64,
    /// Size of each slot's private memory region, for a template without a
    /// store (a memcached template's region is sized from `store_mb` and
    /// `max_connections`); 0 for none.
    #[serde(default)]
    pub memory_size: u64,
    /// A memcached template's store in MiB (memcached's `-m`); 0 for none.
    /// A template with a store is a memcached template: its private region
    /// is the store plus the connection area ([`Self::private_memory_size`]).
    #[serde(default)]
    pub store_mb: u64,
    /// The store in KiB instead, for a store `-m` cannot express (under a
    /// MiB: a small FWP per connection, say); 0 for none. A template gives
    /// at most one of `store_mb` and `store_kb`.
    #[serde(default)]
    pub store_kb: u64,
    /// A memcached template's TCP connections served at once (memcached's
    /// `-c`): the connection area before the store holds this many.
    /// [`DEFAULT_MAX_CONNECTIONS`] when the template has a store.
    #[serde(default)]
    pub max_connections: Option<u64>,
    /// A memcached template's item size limit (memcached's `-I`): the
    /// largest key plus value it stores; 0 for the program's own (1 MiB).
    #[serde(default)]
    pub item_size_max: u64,
    /// Size of each slot's rx buffer region (`fwp_NN_rx_buf`): frames the
    /// mux copies in, in `rings.buffer_size` buffers.
    #[serde(default = "default_slot_buffers_size")]
    pub rx_buffers_size: u64,
    /// Size of each slot's tx buffer region (`fwp_NN_tx_buf`): frames the
    /// slot sends, in `rings.buffer_size` buffers.
    #[serde(default = "default_slot_buffers_size")]
    pub tx_buffers_size: u64,
    /// Size of the template's checkpoint image region (`tmpl_<name>_image`):
    /// the template PD's writable segments after initialisation, plus a
    /// 128-byte header. `sysdesc check` compares it with the program ELF.
    #[serde(default = "default_image_size")]
    pub image_size: u64,
    /// When the mux starts slots.
    #[serde(default)]
    pub spawn: Spawn,
    /// The services the template answers: one port over tcp, udp or both.
    #[serde(default)]
    pub services: Vec<Service>,
    /// One FWP per flow (5-tuple) to the service, instead of one FWP for
    /// the whole service.
    #[serde(default)]
    pub per_flow: bool,
    /// A dynamic FWP that ends (its flow closed, or idle) is destroyed and
    /// created anew by the FWP manager instead of scrubbed and reused.
    #[serde(default)]
    pub renew: bool,
    /// What becomes of a new flow for which no FWP can be spawned (every
    /// FWP busy, or `max_active` serving): `drop` it (and count it), or
    /// `share` one of the template's serving FWPs, its fallback (a
    /// per-flow template's only). Flows that have an FWP are unaffected.
    #[serde(default)]
    pub overflow: Overflow,
    /// A Click template (`tenant_click.elf`): the configuration file its
    /// FWPs run (Click's language subset, `docs/click.md`), relative to
    /// this file. Its FWPs are middleboxes: what they forward leaves under
    /// the mux's forwarding policy. Needs `per_flow`.
    #[serde(default)]
    pub click: Option<String>,
    /// The template obeys fault probes (`edgeos_echo::probe`): only for test
    /// templates that prove a misbehaving FWP is contained.
    #[serde(default)]
    pub test_probes: bool,
    /// Most FWPs of the template serving at once; all of its FWPs (slots
    /// and dynamic ones) by default. Spawns beyond it are refused and counted.
    #[serde(default)]
    pub max_active: Option<u64>,
    /// An FWP that gets no traffic for this long (ms) is torn down; 0 (the
    /// default): never.
    #[serde(default)]
    pub idle_timeout_ms: u64,
    /// Number of slots (child PDs) instantiated from this template.
    #[serde(default = "default_slots")]
    pub slots: u64,
    /// FWPs of this template that are no PD of `system.xml`: the FWP
    /// manager (the root task) creates them at run time, as clones of the
    /// template's first slot (its *prototype*), when the mux asks.
    #[serde(default)]
    pub dynamic: u64,
}

/// memcached's `-c` default: TCP connections a store is served over when
/// the template does not say.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 1024;

/// The largest store (memcached's `-m`): the store addresses items with
/// 32-bit offsets.
pub const MAX_STORE_MB: u64 = 4095;

/// A large page, which the private region's address (0x7000_0000) is
/// aligned to.
const LARGE_PAGE: u64 = 0x20_0000;

/// A memcached template's private region is rounded up to this: the
/// smallest page of every board.
const PRIVATE_MEMORY_PAGE: u64 = 0x1000;

/// The private region a memcached FWP lays out: the connection area for
/// `max_connections` (`edgeos_memcache_server::connection_memory`, the
/// program's own figure), the store's index (`index_memory`: a slot per
/// KiB of store), then the store, page-rounded. Saturates on
/// values validation refuses: beyond `MAX_CONNECTIONS` the limit's area
/// stands in, so nothing overflows before the refusal is reported.
pub fn memcached_memory_size(store_size: u64, max_connections: u64) -> u64 {
    let connections = usize::try_from(max_connections)
        .unwrap_or(usize::MAX)
        .min(edgeos_memcache_server::MAX_CONNECTIONS);
    let area = edgeos_memcache_server::connection_memory(connections) as u64;
    let index = usize::try_from(store_size).map_or(u64::MAX, |s| edgeos_memcache_server::index_memory(s) as u64);
    let size = store_size.saturating_add(area).saturating_add(index);
    size.checked_next_multiple_of(PRIVATE_MEMORY_PAGE).unwrap_or(size)
}

fn default_ctrl_size() -> u64 {
    0x1000
}

fn default_slot_buffers_size() -> u64 {
    0x1_0000
}

fn default_image_size() -> u64 {
    0x4_0000
}

impl Template {
    /// The stack of each of the template's slots and dynamic FWPs.
    pub fn slot_stack_size(&self) -> u64 {
        self.fwp_stack_size.unwrap_or(self.stack_size)
    }

    /// Every FWP of the template the mux drives: its slot PDs and its
    /// dynamic FWPs.
    pub fn fwps(&self) -> u64 {
        self.slots.saturating_add(self.dynamic)
    }

    /// Bytes of a memcached template's store (`store_mb` or `store_kb`); 0
    /// for a template without one.
    pub fn store_size(&self) -> u64 {
        (self.store_mb.saturating_mul(1 << 20)).saturating_add(self.store_kb.saturating_mul(1 << 10))
    }

    /// Whether the template is a memcached template: it has a store.
    pub fn has_store(&self) -> bool {
        self.store_size() > 0
    }

    /// The TCP connections a memcached template serves at once: its
    /// `max_connections` or memcached's default; 0 without a store.
    pub fn max_connections(&self) -> u64 {
        if self.has_store() {
            self.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS)
        } else {
            0
        }
    }

    /// Size of each slot's (and the template PD's) private region: a
    /// memcached template's [`memcached_memory_size`], `memory_size` for
    /// any other; rounded up to large pages when it has them
    /// ([`private_memory_page_size`](Self::private_memory_page_size)).
    pub fn private_memory_size(&self) -> u64 {
        let size = if self.has_store() {
            memcached_memory_size(self.store_size(), self.max_connections())
        } else {
            self.memory_size
        };
        match self.large_private_pages(size) {
            true => size.checked_next_multiple_of(LARGE_PAGE).unwrap_or(size),
            false => size,
        }
    }

    /// The private region's page size: 2 MiB for a region of megabytes (a
    /// memcached store) when no dynamic FWP clones the slot (the FWP
    /// manager copies 4 KiB mappings only), so an 80 MiB store is 40
    /// frames to create and map instead of 20,000 and the static system's
    /// capabilities stay within the root task's CNode; `None` (4 KiB)
    /// otherwise.
    pub fn private_memory_page_size(&self) -> Option<u64> {
        let size = if self.has_store() {
            memcached_memory_size(self.store_size(), self.max_connections())
        } else {
            self.memory_size
        };
        self.large_private_pages(size).then_some(LARGE_PAGE)
    }

    fn large_private_pages(&self, size: u64) -> bool {
        self.dynamic == 0 && size >= LARGE_PAGE
    }

    /// `max_active`, or all of the template's FWPs.
    pub fn max_active(&self) -> u64 {
        self.max_active.unwrap_or(self.fwps())
    }

    /// Whether the services are one port over distinct protocols
    /// (memcached's TCP and UDP on 11211): what the template's blobs can
    /// describe.
    pub fn serves_one_port(&self) -> bool {
        match self.services.as_slice() {
            [_] => true,
            [a, b] => a.port == b.port && a.last() == b.last() && a.protocol != b.protocol,
            _ => false,
        }
    }
}

fn default_slots() -> u64 {
    1
}

/// A template's spawn policy: `{ policy = "on_demand" }` or
/// `{ policy = "warm_pool", pool_size = N }`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(tag = "policy", rename_all = "snake_case", deny_unknown_fields)]
pub enum Spawn {
    /// A slot is started when work for it arrives.
    #[default]
    OnDemand,
    /// `pool_size` slots are kept started ahead of demand.
    WarmPool {
        /// Slots kept started.
        pool_size: u64,
    },
}

/// A per-flow template's overflow policy: `"drop"` or `"share"`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Overflow {
    /// The flow is dropped, and counted (`fwp.refused_*`).
    #[default]
    Drop,
    /// The flow goes to a serving FWP of the template (`fwp.shared`).
    Share,
}

/// A service a template answers: `{ protocol = "udp", port = 7 }`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// `udp` or `tcp`.
    pub protocol: Protocol,
    /// Destination port, 1 to 65535: the first of the range when
    /// `last_port` is given.
    pub port: u16,
    /// The last port of a range `port..=last_port` (a per-flow template's
    /// only: each flow to any of them gets its own FWP).
    #[serde(default)]
    pub last_port: Option<u16>,
}

impl Service {
    /// The last port the service answers (`port` without a range).
    pub fn last(&self) -> u16 {
        self.last_port.unwrap_or(self.port)
    }

    /// Whether the two services share a port of the same protocol.
    pub fn overlaps(&self, other: &Service) -> bool {
        self.protocol == other.protocol && self.port <= other.last() && other.port <= self.last()
    }
}

/// A transport protocol.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// UDP
    Udp,
    /// TCP
    Tcp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
        })
    }
}

/// An IPv4 address with a prefix length, `10.0.2.15/24`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(try_from = "String")]
pub struct Ipv4Cidr {
    /// The address.
    pub address: Ipv4Addr,
    /// The prefix length, 0 to 32.
    pub prefix: u8,
}

impl Ipv4Cidr {
    /// Whether `other` is in this subnet.
    pub fn contains(&self, other: Ipv4Addr) -> bool {
        let mask = u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0);
        (u32::from(self.address) & mask) == (u32::from(other) & mask)
    }
}

impl TryFrom<String> for Ipv4Cidr {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let bad =
            || format!("'{s}' is not an IPv4 address with a prefix length, like 10.0.2.15/24");
        let (address, prefix) = s.split_once('/').ok_or_else(bad)?;
        let address = Ipv4Addr::from_str(address).map_err(|_| bad())?;
        let prefix = prefix
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(bad)?;
        Ok(Ipv4Cidr { address, prefix })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// A MAC address, `52:54:00:12:34:56`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(try_from = "String")]
pub struct MacAddr(pub [u8; 6]);

impl TryFrom<String> for MacAddr {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let bad = || format!("'{s}' is not a MAC address like 52:54:00:12:34:56");
        let mut bytes = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut bytes {
            let part = parts.next().filter(|p| p.len() == 2).ok_or_else(bad)?;
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        if bytes[0] & 1 != 0 {
            return Err(format!(
                "'{s}' is a multicast MAC address; a device needs a unicast one"
            ));
        }
        Ok(MacAddr(bytes))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A template with `fields` besides the required ones.
    fn template(fields: &str) -> Template {
        let text = format!("name = \"t\"\nprogram = \"t.elf\"\npriority = 1\nbudget = 1\nperiod = 10\n{fields}");
        toml::from_str(&text).expect("a template")
    }

    #[test]
    fn a_memcached_region_is_the_connection_area_index_and_store_page_rounded() {
        let area = |n| edgeos_memcache_server::connection_memory(n) as u64;
        let index = |s: u64| edgeos_memcache_server::index_memory(s as usize) as u64;
        let page_rounded = |n: u64| n.next_multiple_of(0x1000);
        // Cloned by a dynamic FWP: 4 KiB pages.
        let a = template("store_mb = 64\nmax_connections = 1024\ndynamic = 1");
        assert_eq!((a.store_size(), a.max_connections()), (64 << 20, 1024));
        assert_eq!(a.private_memory_size(), page_rounded((64 << 20) + area(1024) + index(64 << 20)));
        assert_eq!(a.private_memory_page_size(), None);
        let b = template("store_mb = 16\nmax_connections = 64\ndynamic = 1");
        assert_eq!(b.private_memory_size(), page_rounded((16 << 20) + area(64) + index(16 << 20)));
        // Not cloned: 2 MiB pages, the size rounded up to them.
        let large = template("store_mb = 64\nmax_connections = 1024");
        assert_eq!(large.private_memory_page_size(), Some(LARGE_PAGE));
        assert_eq!(large.private_memory_size(), a.private_memory_size().next_multiple_of(LARGE_PAGE));
        // memcached's -c default, and a store in KiB (under a large page).
        assert_eq!(template("store_mb = 1").max_connections(), DEFAULT_MAX_CONNECTIONS);
        let small = template("store_kb = 64\nmax_connections = 1");
        assert_eq!(small.private_memory_size(), page_rounded(0x1_0000 + area(1) + index(0x1_0000)));
        assert_eq!(small.private_memory_page_size(), None);
        // Any other template: memory_size as given, no connections.
        let echo = template("memory_size = 0x3000");
        assert_eq!((echo.private_memory_size(), echo.max_connections(), echo.store_size()), (0x3000, 0, 0));
        assert_eq!(template("").private_memory_size(), 0);
    }

    #[test]
    fn a_region_of_values_validation_refuses_saturates_instead_of_overflowing() {
        let huge = template(&format!("store_mb = {}\nmax_connections = {}", u64::MAX, u64::MAX));
        assert_eq!(huge.private_memory_size(), u64::MAX);
        let too_many = template("store_mb = 1\nmax_connections = 0xffffffffff\ndynamic = 1");
        let limit = edgeos_memcache_server::MAX_CONNECTIONS as u64;
        assert_eq!(too_many.private_memory_size(), memcached_memory_size(1 << 20, limit));
    }

    #[test]
    fn cidr_and_mac() {
        let c = Ipv4Cidr::try_from("10.0.2.15/24".to_string()).unwrap();
        assert!(c.contains(Ipv4Addr::new(10, 0, 2, 2)));
        assert!(!c.contains(Ipv4Addr::new(10, 0, 3, 2)));
        assert!(Ipv4Cidr::try_from("10.0.2.15/0".to_string())
            .unwrap()
            .contains(Ipv4Addr::BROADCAST));
        assert!(Ipv4Cidr::try_from("10.0.2.15/33".to_string()).is_err());
        assert!(Ipv4Cidr::try_from("10.0.2.15".to_string()).is_err());
        let m = MacAddr::try_from("52:54:00:12:34:56".to_string()).unwrap();
        assert_eq!(m.to_string(), "52:54:00:12:34:56");
        assert!(MacAddr::try_from("01:00:5e:00:00:01".to_string()).is_err());
        assert!(MacAddr::try_from("52:54:00:12:34".to_string()).is_err());
        assert!(MacAddr::try_from("52:54:00:12:34:56:78".to_string()).is_err());
    }
}
