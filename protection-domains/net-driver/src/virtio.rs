//! The virtio-net device: finding it among QEMU's virtio-mmio transports, and
//! virtio-drivers' raw, non-blocking driver as `edgeos_net_driver`'s [`RawNic`].

use core::ptr::NonNull;

use edgeos_net_driver::{RawNic, RawNicError};
use sel4_virtio_hal_impl::HalImpl;
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::Error;

/// QEMU `virt` lays out 32 virtio-mmio transports of 0x200 bytes each, with
/// IRQ 48 + n for transport n; they are probed rather than assumed.
const VIRTIO_MMIO_TRANSPORTS: usize = 32;
const VIRTIO_MMIO_STRIDE: usize = 0x200;
pub const VIRTIO_MMIO_FIRST_IRQ: usize = 48;

/// Requests each virtqueue holds, and so the NIC's tx and rx buffers (one
/// descriptor per frame). 64 lets a burst from the mux (the memcached
/// tenants' 8 TCP connections with 4 KiB windows are about 24 full frames)
/// reach the device without the driver holding a frame, and keeps as many
/// rx buffers posted for frames arriving while the driver is not running.
/// A power of two (virtio-drivers requires it) under QEMU's 256. Costs
/// 2 x 64 x 2 KiB of heap, and in `net_virtio_dma` (2 MiB, system.toml) at
/// most 64 x 2 KiB + 64 x 1.5 KiB of bounce buffers in flight plus two 8 KiB
/// queues: HalImpl's pool, which panics when empty, never runs out.
pub const NET_QUEUE: usize = 64;

/// virtio-drivers' raw driver, wrapped to implement our trait on it.
pub struct VirtioNet(VirtIONetRaw<HalImpl, MmioTransport<'static>, NET_QUEUE>);

/// The first virtio-net device found, its transport index, and the
/// device set up, or why not.
pub fn probe(mmio_vaddr: usize) -> Option<(usize, Result<VirtioNet, Error>)> {
    (0..VIRTIO_MMIO_TRANSPORTS).rev().find_map(|n| {
        let header = NonNull::new((mmio_vaddr + n * VIRTIO_MMIO_STRIDE) as *mut VirtIOHeader)?;
        // SAFETY: `virtio_mmio` covers all 32 transports, mapped uncached by system.xml.
        let transport = unsafe { MmioTransport::new(header, VIRTIO_MMIO_STRIDE) }.ok()?;
        (transport.device_type() == DeviceType::Network)
            .then(|| (n, VirtIONetRaw::new(transport).map(VirtioNet)))
    })
}

fn raw_error(error: Error) -> RawNicError {
    match error {
        Error::QueueFull => RawNicError::QueueFull,
        Error::WrongToken => RawNicError::WrongToken,
        _ => RawNicError::Device,
    }
}

// Each call forwards to virtio-drivers, whose safety contract `RawNic`
// repeats; `VirtioNic` (the only caller) keeps it for every buffer.
impl RawNic for VirtioNet {
    fn mac_address(&self) -> [u8; 6] {
        self.0.mac_address()
    }

    fn fill_buffer_header(&self, buf: &mut [u8]) -> Result<usize, RawNicError> {
        self.0.fill_buffer_header(buf).map_err(raw_error)
    }

    unsafe fn transmit_begin(&mut self, buf: &[u8]) -> Result<u16, RawNicError> {
        // SAFETY: our caller keeps `buf` in place and untouched until its
        // completion (RawNic::transmit_begin's contract).
        unsafe { self.0.transmit_begin(buf) }.map_err(raw_error)
    }

    fn poll_transmit(&mut self) -> Option<u16> {
        self.0.poll_transmit()
    }

    unsafe fn transmit_complete(&mut self, token: u16, buf: &[u8]) -> Result<usize, RawNicError> {
        // SAFETY: our caller passes the slice `transmit_begin` got for `token`.
        unsafe { self.0.transmit_complete(token, buf) }.map_err(raw_error)
    }

    unsafe fn receive_begin(&mut self, buf: &mut [u8]) -> Result<u16, RawNicError> {
        // SAFETY: as for `transmit_begin`.
        unsafe { self.0.receive_begin(buf) }.map_err(raw_error)
    }

    fn poll_receive(&self) -> Option<u16> {
        self.0.poll_receive()
    }

    unsafe fn receive_complete(
        &mut self,
        token: u16,
        buf: &mut [u8],
    ) -> Result<(usize, usize), RawNicError> {
        // SAFETY: our caller passes the slice `receive_begin` got for `token`.
        unsafe { self.0.receive_complete(token, buf) }.map_err(|error| match error {
            // virtio-drivers reports a completion shorter than the header
            // after taking it off the used ring: the buffer is back.
            Error::IoError => RawNicError::Truncated,
            other => raw_error(other),
        })
    }

    fn ack_interrupt(&mut self) {
        self.0.ack_interrupt();
    }
}
