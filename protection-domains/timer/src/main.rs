//! `timer`: the timer driver (Microkit has none). It owns the EL1 physical
//! timer, which the SDK's kernel exports to user mode: the counter
//! (`CNTPCT_EL0`), the compare value (`CNTP_CVAL_EL0`) and the control
//! register (`CNTP_CTL_EL0`), and takes its interrupt. Clients call it
//! (`edgeos_timer::protocol`) to set and cancel timeouts and read the time;
//! it notifies a client when its timeout passes. It reads the board's
//! PL031 real-time clock once at boot and answers unix time from it and the
//! counter (`edgeos_timer::WallClock`). The queue, the quotas and the
//! encodings are `edgeos_timer`'s.
#![no_std]
#![no_main]

use edgeos_pd_ring::{counter, frequency};
use edgeos_timer::{protocol, ClientId, CounterFreq, TimerQueue, WallClock};
use sel4_microkit::{debug_println, protection_domain, var, Channel, ChannelSet, Handler, Infallible, MessageInfo};

/// Pending timeouts in all.
const TIMEOUTS: usize = 16;
/// Pending timeouts per client.
const QUOTA: usize = 4;
/// The mux's client id in the queue.
const MUX_CLIENT: ClientId = 0;

/// Arms the compare register for `ticks`, or disarms the timer.
fn program(ticks: Option<u64>) {
    // SAFETY: the kernel exports the EL1 physical timer to EL0 and gives its
    // interrupt to this PD only (system.xml).
    unsafe {
        match ticks {
            Some(t) => {
                core::arch::asm!("msr cntp_cval_el0, {}", in(reg) t);
                core::arch::asm!("msr cntp_ctl_el0, {}", in(reg) 1u64);
            }
            None => core::arch::asm!("msr cntp_ctl_el0, {}", in(reg) 0u64),
        }
        core::arch::asm!("isb");
    }
}

/// Reads the PL031's data register (offset 0: unix seconds), if the system
/// maps the clock.
fn read_rtc() -> Option<u32> {
    let vaddr = *var!(rtc_vaddr: usize = 0);
    // SAFETY: system.xml maps the PL031's register page here, read-only and
    // uncached, in this PD alone; RTCDR is a 32-bit register at offset 0.
    (vaddr != 0).then(|| unsafe { core::ptr::read_volatile(vaddr as *const u32) })
}

struct Timer {
    queue: TimerQueue<TIMEOUTS, QUOTA>,
    freq: CounterFreq,
    wall_clock: Option<WallClock>,
    irq: Channel,
    mux: Channel,
}

impl Timer {
    fn now_ns(&self) -> u64 {
        self.freq.ticks_to_ns(counter())
    }

    fn rearm(&self) {
        program(self.queue.next_deadline().map(|ns| self.freq.ns_to_ticks(ns)));
    }
}

#[protection_domain(heap_size = 4096)]
fn init() -> Timer {
    let freq = CounterFreq::new(frequency()).unwrap_or(CounterFreq::QEMU_VIRT);
    program(None);
    let irq = Channel::new(*var!(timer_irq_channel: usize = 0));
    let _ = irq.irq_ack();
    let wall_clock = read_rtc().and_then(|secs| WallClock::from_rtc(secs, freq.ticks_to_ns(counter())));
    match wall_clock {
        Some(clock) => debug_println!("timer: counter at {} Hz, unix time {} s", freq.hz(), clock.unix_ns(freq.ticks_to_ns(counter())) / 1_000_000_000),
        None => debug_println!("timer: counter at {} Hz, no real-time clock", freq.hz()),
    }
    Timer { queue: TimerQueue::new(), freq, wall_clock, irq, mux: Channel::new(*var!(mux_channel: usize = 1)) }
}

impl Handler for Timer {
    type Error = Infallible;

    fn protected(&mut self, channel: Channel, msg: MessageInfo) -> Result<MessageInfo, Self::Error> {
        // One client for now: the mux. Any other caller is refused.
        let reply = if channel == self.mux {
            let n = msg.count().min(2);
            let words = sel4_microkit::with_msg_regs(|mrs| [mrs[0], mrs[1]]);
            let now = self.now_ns();
            let unix_now = self.wall_clock.map(|clock| clock.unix_ns(now));
            protocol::serve(&mut self.queue, MUX_CLIENT, msg.label(), &words[..n], now, unix_now)
        } else {
            protocol::Reply::Refused(protocol::Refusal::BadRequest).to_message()
        };
        self.rearm();
        let words = reply.words();
        sel4_microkit::with_msg_regs_mut(|mrs| mrs[..words.len()].copy_from_slice(words));
        Ok(MessageInfo::new(reply.label, words.len()))
    }

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if channels.contains(self.irq) {
            let now = self.now_ns();
            let mut expired = false;
            while self.queue.pop_expired(now).is_some() {
                expired = true;
            }
            self.rearm();
            let _ = self.irq.irq_ack();
            if expired {
                self.mux.notify();
            }
        }
        Ok(())
    }
}
