//! The FWP manager's blob: what the root task needs to create FWPs at run
//! time, as clones of each template's *prototype*, a slot PD that stays in
//! `system.xml`. The root task reads it from the packed spec (it is the
//! prefill of the `fwp_manager` region, found by its magic), never from
//! memory a PD can write.
//!
//! An FWP clone shares every read-only page of its prototype (program text,
//! the template's checkpoint image, its configuration) and gets fresh
//! memory for every writable one; of those, the regions the multiplexer
//! also maps (control region, four rings, rx and tx buffers:
//! [`REGION_COUNT`], in this order) are mapped into the multiplexer at the
//! clone's own addresses.

use heapless::Vec;

use crate::bytes::{Reader, Writer};
use crate::{ConfigError, MAX_TEMPLATES};

const MAGIC: u32 = u32::from_le_bytes(*b"EDFM");

/// Regions an FWP shares with the multiplexer: control, rx free, rx used,
/// tx free, tx used, rx buffers, tx buffers.
pub const REGION_COUNT: usize = 7;

/// Most FWPs the manager creates at run time (the blob lists each).
pub const MAX_MANAGED_FWPS: usize = 1024;

/// A region of an FWP's address space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Its first address (page-aligned).
    pub vaddr: u64,
    /// Its length in bytes (whole pages).
    pub size: u32,
}

/// A template whose FWPs the manager creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagedTemplate {
    /// The prototype slot PD's index in `system.xml` (its scheduling
    /// context carries badge 0x100 + index, a marker that survives the
    /// stripping of names in release images).
    pub prototype_pd: u16,
    /// The prototype's regions shared with the multiplexer, in the
    /// prototype's (and every clone's) address space.
    pub regions: [Region; REGION_COUNT],
}

/// One FWP the manager creates on request: dynamic FWP `k` is the `k`-th.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagedFwp {
    /// Index of its template in [`ManagerConfig::templates`].
    pub template: u8,
    /// The multiplexer's channel bit on which the FWP signals it.
    pub signal: u8,
    /// Where its regions go in the multiplexer's address space, in
    /// [`ManagedTemplate::regions`] order.
    pub mux: [u64; REGION_COUNT],
}

/// Everything the root task needs to serve the multiplexer's requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerConfig {
    /// The multiplexer's index in `system.xml`.
    pub mux_pd: u16,
    /// The multiplexer's channel bit on which the manager signals it.
    pub mux_signal: u8,
    /// The request/completion page (`edgeos_fwp_manager::comm`) in
    /// the multiplexer's address space.
    pub comm: u64,
    /// The templates with dynamic FWPs; `ManagedFwp::template` indexes
    /// this list.
    pub templates: Vec<ManagedTemplate, MAX_TEMPLATES>,
    /// The FWPs, by dynamic index.
    pub fwps: Vec<ManagedFwp, MAX_MANAGED_FWPS>,
}

const TEMPLATE_LEN: usize = 4 + REGION_COUNT * 12;
const FWP_LEN: usize = 4 + REGION_COUNT * 8;
/// Microkit's channel ids run 0..=61.
const MAX_CHANNEL: u8 = 61;

fn page_addr(r: &mut Reader<'_>) -> Result<u64, ConfigError> {
    let a = u64::from_le_bytes(r.take()?);
    if a == 0 || a % 4096 != 0 {
        return Err(ConfigError::BadValue("region address"));
    }
    Ok(a)
}

fn channel(r: &mut Reader<'_>) -> Result<u8, ConfigError> {
    match r.u8()? {
        id if id > MAX_CHANNEL => Err(ConfigError::BadValue("channel id")),
        id => Ok(id),
    }
}

impl ManagerConfig {
    /// Bytes a blob with `templates` templates and `fwps` FWPs takes.
    pub const fn len_for(templates: usize, fwps: usize) -> usize {
        8 + 4 + 8 + 4 + templates * TEMPLATE_LEN + fwps * FWP_LEN
    }

    /// Bytes `emit` writes for this configuration.
    pub fn buffer_len(&self) -> usize {
        Self::len_for(self.templates.len(), self.fwps.len())
    }

    /// Whether `bytes` starts like a blob of this kind (the root task scans
    /// the spec's prefilled frames for it).
    pub fn recognise(bytes: &[u8]) -> bool {
        bytes.get(..4) == Some(&MAGIC.to_le_bytes()[..])
    }

    /// Parses an untrusted blob: errors, never panics.
    pub fn parse(bytes: &[u8]) -> Result<Self, ConfigError> {
        let mut r = Reader::new(bytes);
        r.header(MAGIC)?;
        let mux_pd = r.u16()?;
        let mux_signal = channel(&mut r)?;
        let _pad = r.u8()?;
        let comm = page_addr(&mut r)?;
        let (template_count, fwp_count) = (usize::from(r.u16()?), usize::from(r.u16()?));
        if template_count > MAX_TEMPLATES || fwp_count > MAX_MANAGED_FWPS {
            return Err(ConfigError::BadValue("template or FWP count"));
        }
        let mut templates = Vec::new();
        for _ in 0..template_count {
            let prototype_pd = r.u16()?;
            let _pad = r.u16()?;
            let mut regions = [Region { vaddr: 0, size: 0 }; REGION_COUNT];
            for region in &mut regions {
                let vaddr = page_addr(&mut r)?;
                let size = r.u32()?;
                if size == 0 || size % 4096 != 0 {
                    return Err(ConfigError::BadValue("region size"));
                }
                *region = Region { vaddr, size };
            }
            // The count was checked against the capacity above.
            let _ = templates.push(ManagedTemplate { prototype_pd, regions });
        }
        let mut fwps = Vec::new();
        for _ in 0..fwp_count {
            let template = r.u8()?;
            if usize::from(template) >= template_count {
                return Err(ConfigError::BadValue("FWP template"));
            }
            let signal = channel(&mut r)?;
            let _pad = r.u16()?;
            let mut mux = [0; REGION_COUNT];
            for addr in &mut mux {
                *addr = page_addr(&mut r)?;
            }
            let _ = fwps.push(ManagedFwp { template, signal, mux });
        }
        Ok(Self { mux_pd, mux_signal, comm, templates, fwps })
    }

    /// Writes the blob into `out`; returns its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, ConfigError> {
        let mut w = Writer::new(out);
        w.header(MAGIC)?;
        w.put(&self.mux_pd.to_le_bytes())?;
        w.put(&[self.mux_signal, 0])?;
        w.put(&self.comm.to_le_bytes())?;
        w.put(&(self.templates.len() as u16).to_le_bytes())?;
        w.put(&(self.fwps.len() as u16).to_le_bytes())?;
        for template in &self.templates {
            w.put(&template.prototype_pd.to_le_bytes())?;
            w.put(&[0, 0])?;
            for region in template.regions {
                w.put(&region.vaddr.to_le_bytes())?;
                w.put(&region.size.to_le_bytes())?;
            }
        }
        for fwp in &self.fwps {
            w.put(&[fwp.template, fwp.signal, 0, 0])?;
            for addr in fwp.mux {
                w.put(&addr.to_le_bytes())?;
            }
        }
        Ok(w.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ManagerConfig {
        let regions = core::array::from_fn(|i| Region { vaddr: 0x2000_0000 + i as u64 * 0x10_0000, size: 0x4000 });
        let mut templates = Vec::new();
        templates.push(ManagedTemplate { prototype_pd: 7, regions }).unwrap();
        let mut fwps = Vec::new();
        for k in 0..3u64 {
            let mux = core::array::from_fn(|i| 0x8000_0000 + k * 0x100_0000 + i as u64 * 0x10_0000);
            fwps.push(ManagedFwp { template: 0, signal: 40 + k as u8, mux }).unwrap();
        }
        ManagerConfig { mux_pd: 1, mux_signal: 61, comm: 0x5a00_0000, templates, fwps }
    }

    #[test]
    fn round_trip_and_recognition() {
        let mut buf = [0u8; 1024];
        let len = sample().emit(&mut buf).unwrap();
        assert_eq!(len, sample().buffer_len());
        assert!(ManagerConfig::recognise(&buf[..len]));
        assert!(!ManagerConfig::recognise(b"EDMX...."));
        assert_eq!(ManagerConfig::parse(&buf[..len]), Ok(sample()));
    }

    #[test]
    fn untrusted_blobs_are_refused_never_panic() {
        let mut buf = [0u8; 1024];
        let len = sample().emit(&mut buf).unwrap();
        for cut in 0..len {
            assert!(ManagerConfig::parse(&buf[..cut]).is_err(), "prefix of {cut} bytes");
        }
        let t0 = 24;
        let f0 = t0 + TEMPLATE_LEN;
        let cases: [(usize, u8, ConfigError); 8] = [
            (0, 0, ConfigError::BadMagic),
            (10, 62, ConfigError::BadValue("channel id")),
            (12, 1, ConfigError::BadValue("region address")),
            (20, 9, ConfigError::BadValue("template or FWP count")),
            (23, 4, ConfigError::BadValue("template or FWP count")),
            (t0 + 4 + 8, 1, ConfigError::BadValue("region size")),
            (f0, 1, ConfigError::BadValue("FWP template")),
            (f0 + 1, 62, ConfigError::BadValue("channel id")),
        ];
        for (at, value, error) in cases {
            let mut bad = buf;
            bad[at] = value;
            assert_eq!(ManagerConfig::parse(&bad[..len]), Err(error), "byte {at} = {value}");
        }
        assert_eq!(sample().emit(&mut [0u8; 16]), Err(ConfigError::NoRoom));
    }
}
