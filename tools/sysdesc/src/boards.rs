//! Per-board facts the generator and the checks need: where RAM and devices
//! are, which interrupts they raise, and the shape of a PD's address space.
//!
//! Only boards listed here can be named in a configuration; an unknown name
//! is an error that lists the known ones. Each figure says where it comes
//! from so it can be re-checked when the SDK or QEMU changes.

use std::fmt;
use std::ops::Range;

/// A board the system can be generated for.
#[derive(Debug, PartialEq, Eq)]
pub struct Board {
    /// The Microkit board name (`--board`).
    pub name: &'static str,
    /// Physical memory the kernel manages, as the SDK's
    /// `board/<board>/<config>/platform_gen.json` lists it.
    pub ram: Range<u64>,
    /// CPU cores Microkit runs PDs on (`cpu` must be below this).
    pub cores: u64,
    /// Page sizes the architecture supports, smallest first.
    pub page_sizes: &'static [u64],
    /// The highest user virtual address, inclusive (`vspace_user_top` in the
    /// SDK's `address_space_constants.json`). Microkit puts the IPC buffer in
    /// the page below it, a guard page under that, then the stack.
    pub user_vspace_top: u64,
    /// The virtio-mmio transports, if the board has them.
    pub virtio: Option<VirtioMmio>,
    /// The console UART.
    pub uart: Option<Uart>,
    /// The timer interrupt a timer driver PD takes.
    pub timer_irq: Option<u64>,
    /// Physical address of a PL031 real-time clock, which the timer PD
    /// reads once at boot for unix time.
    pub rtc: Option<u64>,
}

/// A bank of virtio-mmio transports.
#[derive(Debug, PartialEq, Eq)]
pub struct VirtioMmio {
    /// Physical address of transport 0.
    pub base: u64,
    /// Bytes between transports.
    pub stride: u64,
    /// Number of transports.
    pub transports: u64,
    /// Interrupt of transport 0; transport n raises `first_irq + n`.
    pub first_irq: u64,
    /// The transport the first virtio device lands on.
    pub first_device_transport: u64,
}

impl VirtioMmio {
    /// Bytes covering every transport.
    pub fn window_size(&self) -> u64 {
        self.stride.saturating_mul(self.transports)
    }

    /// The interrupt of the first virtio device.
    pub fn first_device_irq(&self) -> u64 {
        self.first_irq + self.first_device_transport
    }
}

/// A UART.
#[derive(Debug, PartialEq, Eq)]
pub struct Uart {
    /// The device model.
    pub model: &'static str,
    /// Physical address of its registers.
    pub base: u64,
    /// Its interrupt.
    pub irq: u64,
}

/// 4 KiB and 2 MiB, aarch64's page sizes as Microkit 2.3.0 uses them
/// (`Config::page_sizes` in the tool).
const AARCH64_PAGE_SIZES: &[u64] = &[0x1000, 0x20_0000];

/// Every known board.
pub const BOARDS: &[Board] = &[Board {
    name: "qemu_virt_aarch64",
    // platform_gen.json: memory [0x6000_0000, 0xc000_0000). QEMU's RAM starts
    // at 0x4000_0000; with `-m size=2G` it ends at 0xc000_0000.
    ram: 0x6000_0000..0xc000_0000,
    // Microkit 2.3.0's SDK builds qemu_virt_aarch64 without SMP.
    cores: 1,
    page_sizes: AARCH64_PAGE_SIZES,
    // address_space_constants.json: vspace_user_top = 1099511627775 (40 bits).
    user_vspace_top: 0xff_ffff_ffff,
    // QEMU virt: transports at 0x0a000000 + 0x200 * n (n = 0..31), IRQ 48 + n;
    // QEMU fills them from the top, so the first device is on transport 31.
    virtio: Some(VirtioMmio {
        base: 0x0a00_0000,
        stride: 0x200,
        transports: 32,
        first_irq: 48,
        first_device_transport: 31,
    }),
    uart: Some(Uart {
        model: "PL011",
        base: 0x0900_0000,
        irq: 33,
    }),
    // The ARM generic timer's EL1 physical timer interrupt (PPI 14).
    timer_irq: Some(30),
    // QEMU virt's PL031 (VIRT_RTC in hw/arm/virt.c): 0x0901_0000, one page.
    rtc: Some(0x0901_0000),
}];

/// A board name that is not in [`BOARDS`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownBoard(pub String);

impl fmt::Display for UnknownBoard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown board '{}'; known boards: {}",
            self.0,
            known_names().join(", ")
        )
    }
}

/// The names of every known board.
pub fn known_names() -> Vec<&'static str> {
    BOARDS.iter().map(|b| b.name).collect()
}

/// The board called `name`.
pub fn board(name: &str) -> Result<&'static Board, UnknownBoard> {
    BOARDS
        .iter()
        .find(|b| b.name == name)
        .ok_or_else(|| UnknownBoard(name.to_string()))
}

impl Board {
    /// The smallest page size.
    pub fn small_page(&self) -> u64 {
        self.page_sizes.first().copied().unwrap_or(0x1000)
    }

    /// The first address a PD may not map at: the bottom of its stack
    /// (`pd_map_max_vaddr` in the Microkit tool: IPC buffer in the top page,
    /// a guard page, then the stack).
    pub fn map_limit(&self, stack_size: u64) -> u64 {
        let small = self.small_page();
        let ipc_buffer = self.user_vspace_top & !(small - 1);
        ipc_buffer.saturating_sub(small).saturating_sub(stack_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_virt_facts() {
        let b = board("qemu_virt_aarch64").unwrap();
        let v = b.virtio.as_ref().unwrap();
        assert_eq!(v.window_size(), 0x4000);
        assert_eq!(v.first_device_irq(), 79);
        assert_eq!(b.map_limit(0x2000), 0xff_ffff_e000 - 0x2000);
    }

    #[test]
    fn unknown_board_lists_known_ones() {
        let e = board("pi5").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown board 'pi5'; known boards: qemu_virt_aarch64"
        );
    }
}
