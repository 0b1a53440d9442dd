//! The flow table: which tenant owns which service port or conversation.

use heapless::FnvIndexMap;

use crate::{FiveTuple, ServiceKey, TenantId};

/// One routing entry's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowKey {
    /// Everything of a protocol to one of our ports.
    Service(ServiceKey),
    /// One exact conversation (as it arrives from the wire).
    Flow(FiveTuple),
}

/// Why an entry was not added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowTableError {
    /// All `N` entries are in use.
    Full,
    /// The key already routes to this tenant; remove it first to re-map it.
    AlreadyMapped(TenantId),
}

impl core::fmt::Display for FlowTableError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Full => f.write_str("flow table is full"),
            Self::AlreadyMapped(t) => write!(f, "already mapped to tenant {}", t.0),
        }
    }
}

/// Service ports and per-flow 5-tuples, each mapped to the tenant that owns it.
///
/// Both kinds share one fixed-capacity hash map of `N` entries (`N` must be
/// a power of two, checked at compile time by heapless), so a lookup costs
/// at most two probes and nothing is allocated. A 5-tuple entry wins over
/// the service entry of its destination port: that is how a per-flow
/// template takes one conversation away from a per-port one.
#[derive(Debug, Clone)]
pub struct FlowTable<const N: usize> {
    map: FnvIndexMap<FlowKey, TenantId, N>,
}

impl<const N: usize> Default for FlowTable<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FlowTable<N> {
    /// An empty table.
    pub fn new() -> Self {
        Self { map: FnvIndexMap::new() }
    }

    fn insert(&mut self, key: FlowKey, tenant: TenantId) -> Result<(), FlowTableError> {
        if let Some(owner) = self.map.get(&key) {
            return Err(FlowTableError::AlreadyMapped(*owner));
        }
        self.map.insert(key, tenant).map(|_| ()).map_err(|_| FlowTableError::Full)
    }

    /// Routes every packet of `key.protocol` to our port `key.port` to `tenant`.
    pub fn insert_service(
        &mut self,
        key: ServiceKey,
        tenant: TenantId,
    ) -> Result<(), FlowTableError> {
        self.insert(FlowKey::Service(key), tenant)
    }

    /// Routes one conversation to `tenant`, ahead of any service on its port.
    pub fn insert_flow(
        &mut self,
        tuple: FiveTuple,
        tenant: TenantId,
    ) -> Result<(), FlowTableError> {
        self.insert(FlowKey::Flow(tuple), tenant)
    }

    /// Removes a service entry, returning the tenant it routed to.
    pub fn remove_service(&mut self, key: &ServiceKey) -> Option<TenantId> {
        self.map.remove(&FlowKey::Service(*key))
    }

    /// Removes a per-flow entry, returning the tenant it routed to.
    pub fn remove_flow(&mut self, tuple: &FiveTuple) -> Option<TenantId> {
        self.map.remove(&FlowKey::Flow(*tuple))
    }

    /// Removes every entry of `tenant` (teardown), returning how many there were.
    pub fn remove_tenant(&mut self, tenant: TenantId) -> usize {
        let before = self.map.len();
        self.map.retain(|_, owner| *owner != tenant);
        before - self.map.len()
    }

    /// The tenant a packet belongs to: its exact 5-tuple first, then the
    /// service of its protocol and destination port.
    pub fn lookup(&self, tuple: &FiveTuple) -> Option<TenantId> {
        self.map
            .get(&FlowKey::Flow(*tuple))
            .or_else(|| self.map.get(&FlowKey::Service(tuple.service_key())))
            .copied()
    }

    /// The tenant of a service entry, if any.
    pub fn get_service(&self, key: &ServiceKey) -> Option<TenantId> {
        self.map.get(&FlowKey::Service(*key)).copied()
    }

    /// The tenant of an exact per-flow entry, if any (ignoring services).
    pub fn get_flow(&self, tuple: &FiveTuple) -> Option<TenantId> {
        self.map.get(&FlowKey::Flow(*tuple)).copied()
    }

    /// Number of entries (services and flows).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Maximum number of entries, `N`.
    pub fn capacity(&self) -> usize {
        N
    }

    /// Every entry with its tenant, in insertion order (until a removal reorders them).
    pub fn iter(&self) -> impl Iterator<Item = (FlowKey, TenantId)> + '_ {
        self.map.iter().map(|(k, t)| (*k, *t))
    }

    /// Whether `tenant` owns at least one entry.
    pub fn contains_tenant(&self, tenant: TenantId) -> bool {
        self.map.values().any(|t| *t == tenant)
    }

    /// The services `tenant` owns.
    pub fn services_of(&self, tenant: TenantId) -> impl Iterator<Item = ServiceKey> + '_ {
        self.iter().filter_map(move |(key, owner)| match key {
            FlowKey::Service(s) if owner == tenant => Some(s),
            _ => None,
        })
    }

    /// The first service `tenant` owns: per-port templates have exactly one.
    pub fn service_of(&self, tenant: TenantId) -> Option<ServiceKey> {
        self.services_of(tenant).next()
    }

    /// The per-flow entries `tenant` owns.
    pub fn flows_of(&self, tenant: TenantId) -> impl Iterator<Item = FiveTuple> + '_ {
        self.iter().filter_map(move |(key, owner)| match key {
            FlowKey::Flow(f) if owner == tenant => Some(f),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use smoltcp::wire::Ipv4Address;

    use super::*;
    use crate::Protocol;

    const UDP7: ServiceKey = ServiceKey { protocol: Protocol::Udp, port: 7 };
    const TCP80: ServiceKey = ServiceKey { protocol: Protocol::Tcp, port: 80 };

    fn flow(src_port: u16, dst_port: u16) -> FiveTuple {
        FiveTuple {
            protocol: Protocol::Tcp,
            src: (Ipv4Address::new(10, 0, 2, 2), src_port),
            dst: (Ipv4Address::new(10, 0, 2, 15), dst_port),
        }
    }

    #[test]
    fn services_and_flows_are_found_and_flows_win() {
        let mut t = FlowTable::<8>::new();
        t.insert_service(UDP7, TenantId(0)).unwrap();
        t.insert_service(TCP80, TenantId(1)).unwrap();
        t.insert_flow(flow(40000, 80), TenantId(2)).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.lookup(&flow(40000, 80)), Some(TenantId(2)));
        assert_eq!(t.lookup(&flow(40001, 80)), Some(TenantId(1)));
        assert_eq!(t.lookup(&flow(40000, 81)), None);
        // The protocol is part of the key: UDP 80 is not TCP 80's.
        let udp80 = FiveTuple { protocol: Protocol::Udp, ..flow(40001, 80) };
        assert_eq!(t.lookup(&udp80), None);
        assert_eq!(t.service_of(TenantId(1)), Some(TCP80));
        assert_eq!(t.flows_of(TenantId(2)).next(), Some(flow(40000, 80)));
        assert_eq!(t.get_flow(&flow(40001, 80)), None);
        assert_eq!(t.get_service(&UDP7), Some(TenantId(0)));
    }

    #[test]
    fn duplicates_are_refused_with_the_owner() {
        let mut t = FlowTable::<4>::new();
        t.insert_service(UDP7, TenantId(0)).unwrap();
        assert_eq!(
            t.insert_service(UDP7, TenantId(1)),
            Err(FlowTableError::AlreadyMapped(TenantId(0)))
        );
        t.insert_flow(flow(1, 2), TenantId(3)).unwrap();
        assert_eq!(
            t.insert_flow(flow(1, 2), TenantId(3)),
            Err(FlowTableError::AlreadyMapped(TenantId(3)))
        );
        assert_eq!(
            t.lookup(&FiveTuple { protocol: Protocol::Udp, ..flow(9, 7) }),
            Some(TenantId(0))
        );
    }

    #[test]
    fn a_full_table_refuses_and_recovers_after_removal() {
        let mut t = FlowTable::<4>::new();
        for p in 0..4 {
            t.insert_flow(flow(p, 80), TenantId(p)).unwrap();
        }
        assert_eq!(t.insert_service(TCP80, TenantId(9)), Err(FlowTableError::Full));
        assert_eq!(t.remove_flow(&flow(2, 80)), Some(TenantId(2)));
        assert_eq!(t.remove_flow(&flow(2, 80)), None);
        t.insert_service(TCP80, TenantId(9)).unwrap();
        assert_eq!(t.lookup(&flow(2, 80)), Some(TenantId(9)));
        assert_eq!(t.remove_service(&TCP80), Some(TenantId(9)));
        assert_eq!(t.lookup(&flow(2, 80)), None);
    }

    #[test]
    fn remove_tenant_removes_exactly_its_entries() {
        let mut t = FlowTable::<8>::new();
        t.insert_service(UDP7, TenantId(1)).unwrap();
        t.insert_service(TCP80, TenantId(2)).unwrap();
        t.insert_flow(flow(5, 80), TenantId(1)).unwrap();
        t.insert_flow(flow(6, 80), TenantId(1)).unwrap();
        assert_eq!(t.remove_tenant(TenantId(1)), 3);
        assert_eq!(t.remove_tenant(TenantId(1)), 0);
        assert!(!t.contains_tenant(TenantId(1)));
        assert_eq!(t.len(), 1);
        // With the flow gone, its packets fall back to the port's service.
        assert_eq!(t.lookup(&flow(5, 80)), Some(TenantId(2)));
        assert_eq!(t.capacity(), 8);
    }
}
