use crate::bytes::{Reader, Writer};
use crate::{ConfigError, Protocols};

const MAGIC: u32 = u32::from_le_bytes(*b"EDTN");

/// What one FWP slot's template needs: its network identity and the
/// service it answers. The same addresses as the multiplexer's: tenants
/// share the system's address and are told apart by port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantConfig {
    /// The system's IPv4 address.
    pub ip: [u8; 4],
    /// Prefix length of the local network.
    pub prefix_len: u8,
    /// The default gateway.
    pub gateway: [u8; 4],
    /// The NIC's MAC address, which the tenant's frames must carry.
    pub mac: [u8; 6],
    /// The protocols the template answers on its port.
    pub protocols: Protocols,
    /// The slot's service port (the first of a range).
    pub port: u16,
    /// The last port of the service's range: `port` for one port.
    pub last_port: u16,
    /// The template obeys fault probes (`edgeos_echo::probe`): for test
    /// templates that prove the mux contains misbehaving FWPs.
    pub probes: bool,
    /// A memcached template's item size limit (key plus value); 0: the
    /// program's own (memcached's default, 1 MiB).
    pub item_size_max: u32,
    /// One FWP per flow: an FWP of the template serves one connection, and
    /// asks to exit once it has ended.
    pub per_flow: bool,
    /// Length of a Click template's configuration text, which follows the
    /// blob in the same region ([`click_text`](Self::click_text)); 0: none.
    pub click_len: u32,
    /// A memcached template's TCP connections served at once (memcached's
    /// `-c`); 0 for a template without a store.
    pub max_connections: u32,
    /// Bytes of a memcached template's store, which ends its private
    /// region (the connection area for `max_connections` comes first); 0
    /// for none.
    pub store_size: u64,
}

impl TenantConfig {
    /// Bytes `emit` writes.
    pub const BUFFER_LEN: usize = 8 + 4 + 1 + 4 + 6 + 1 + 2 + 2 + 1 + 4 + 1 + 4 + 4 + 8;

    /// The Click configuration text in `region` (the whole configuration
    /// region this blob heads): `None` when the template has none.
    pub fn click_text<'a>(&self, region: &'a [u8]) -> Option<Result<&'a str, ConfigError>> {
        if self.click_len == 0 {
            return None;
        }
        let end = Self::BUFFER_LEN.checked_add(self.click_len as usize);
        let Some(text) = end.and_then(|end| region.get(Self::BUFFER_LEN..end)) else {
            return Some(Err(ConfigError::Truncated));
        };
        Some(core::str::from_utf8(text).map_err(|_| ConfigError::BadValue("click text")))
    }

    /// Parses a blob written by [`emit`](Self::emit).
    pub fn parse(bytes: &[u8]) -> Result<Self, ConfigError> {
        let mut r = Reader::new(bytes);
        r.header(MAGIC)?;
        let ip = r.take()?;
        let prefix_len = r.u8()?;
        if prefix_len > 32 {
            return Err(ConfigError::BadValue("prefix_len"));
        }
        let gateway = r.take()?;
        let mac = r.take()?;
        let protocols = Protocols::from_byte(r.u8()?)?;
        let port = r.u16()?;
        let last_port = r.u16()?;
        if last_port < port {
            return Err(ConfigError::BadValue("last_port"));
        }
        let probes = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(ConfigError::BadValue("probes")),
        };
        let item_size_max = r.u32()?;
        let per_flow = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(ConfigError::BadValue("per_flow")),
        };
        let click_len = r.u32()?;
        let max_connections = r.u32()?;
        let store_size = u64::from_le_bytes(r.take()?);
        // A store is served over connections, and connections serve a store.
        if (max_connections == 0) != (store_size == 0) {
            return Err(ConfigError::BadValue("max_connections"));
        }
        Ok(Self {
            ip,
            prefix_len,
            gateway,
            mac,
            protocols,
            port,
            last_port,
            probes,
            item_size_max,
            per_flow,
            click_len,
            max_connections,
            store_size,
        })
    }

    /// Writes the blob into `out`, returning its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, ConfigError> {
        let mut w = Writer::new(out);
        w.header(MAGIC)?;
        w.put(&self.ip)?;
        w.put(&[self.prefix_len])?;
        w.put(&self.gateway)?;
        w.put(&self.mac)?;
        w.put(&[self.protocols.to_byte()])?;
        w.put(&self.port.to_le_bytes())?;
        w.put(&self.last_port.to_le_bytes())?;
        w.put(&[u8::from(self.probes)])?;
        w.put(&self.item_size_max.to_le_bytes())?;
        w.put(&[u8::from(self.per_flow)])?;
        w.put(&self.click_len.to_le_bytes())?;
        w.put(&self.max_connections.to_le_bytes())?;
        w.put(&self.store_size.to_le_bytes())?;
        Ok(w.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: TenantConfig = TenantConfig {
        ip: [10, 0, 2, 15],
        prefix_len: 24,
        gateway: [10, 0, 2, 2],
        mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56],
        protocols: Protocols::BOTH,
        port: 7,
        last_port: 7,
        probes: true,
        item_size_max: 0x4_0000,
        per_flow: true,
        click_len: 0,
        max_connections: 64,
        store_size: 16 << 20,
    };

    #[test]
    fn round_trip_and_refusals() {
        let mut buf = [0u8; TenantConfig::BUFFER_LEN];
        assert_eq!(SAMPLE.emit(&mut buf), Ok(TenantConfig::BUFFER_LEN));
        assert_eq!(TenantConfig::parse(&buf), Ok(SAMPLE));
        for cut in 0..buf.len() {
            assert!(TenantConfig::parse(&buf[..cut]).is_err());
        }
        let mut bad = buf;
        bad[12] = 33;
        assert_eq!(TenantConfig::parse(&bad), Err(ConfigError::BadValue("prefix_len")));
        // The fields after `last_port`, from the end: probes (1), item_size_max
        // (4), per_flow (1), click_len (4), max_connections (4), store_size (8).
        let end = TenantConfig::BUFFER_LEN;
        let mut bad = buf;
        bad[end - 22] = 2;
        assert_eq!(TenantConfig::parse(&bad), Err(ConfigError::BadValue("probes")));
        let mut bad = buf;
        bad[end - 17] = 2;
        assert_eq!(TenantConfig::parse(&bad), Err(ConfigError::BadValue("per_flow")));
        let mut bad = buf;
        bad[end - 24..end - 22].copy_from_slice(&6u16.to_le_bytes());
        assert_eq!(TenantConfig::parse(&bad), Err(ConfigError::BadValue("last_port")));
        // A store without connections, and connections without a store.
        let mut bad = buf;
        bad[end - 12..end - 8].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(TenantConfig::parse(&bad), Err(ConfigError::BadValue("max_connections")));
        let mut bad = buf;
        bad[end - 8..].copy_from_slice(&0u64.to_le_bytes());
        assert_eq!(TenantConfig::parse(&bad), Err(ConfigError::BadValue("max_connections")));
        let mut bad = buf;
        bad[0..4].copy_from_slice(b"EDMX");
        assert_eq!(TenantConfig::parse(&bad), Err(ConfigError::BadMagic));
    }

    #[test]
    fn a_template_without_a_store_has_no_connections() {
        let echo = TenantConfig { item_size_max: 0, max_connections: 0, store_size: 0, ..SAMPLE };
        let mut buf = [0u8; TenantConfig::BUFFER_LEN];
        assert_eq!(echo.emit(&mut buf), Ok(TenantConfig::BUFFER_LEN));
        assert_eq!(TenantConfig::parse(&buf), Ok(echo));
    }

    #[test]
    fn click_text_follows_the_blob_in_its_region() {
        let text = "FromRing -> ToRing;";
        let config = TenantConfig { click_len: text.len() as u32, ..SAMPLE };
        let mut region = [0u8; 256];
        assert_eq!(config.emit(&mut region), Ok(TenantConfig::BUFFER_LEN));
        region[TenantConfig::BUFFER_LEN..][..text.len()].copy_from_slice(text.as_bytes());
        let parsed = TenantConfig::parse(&region).unwrap();
        assert_eq!(parsed.click_text(&region), Some(Ok(text)));
        assert_eq!(SAMPLE.click_text(&region), None);
        // A length past the region, and text that is not UTF-8.
        let cut = &region[..TenantConfig::BUFFER_LEN + text.len() - 1];
        assert_eq!(parsed.click_text(cut), Some(Err(ConfigError::Truncated)));
        region[TenantConfig::BUFFER_LEN] = 0xff;
        assert_eq!(parsed.click_text(&region), Some(Err(ConfigError::BadValue("click text"))));
    }
}
