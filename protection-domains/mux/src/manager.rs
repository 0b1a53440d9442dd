//! The multiplexer's side of the FWP manager (the root task): it asks for
//! every dynamic FWP at start, and a created one joins its template's pool
//! like a slot PD. The protocol is `edgeos_fwp_manager::comm`; the manager's
//! answers are untrusted like any shared memory's.

use edgeos_config::{ManagerLink, MuxConfig};
use edgeos_fwp::{SlotState, TeardownReason, TemplateId};
use edgeos_fwp_manager::caps;
use edgeos_fwp_manager::comm::{self, MappedPage, Request, Status};
use heapless::Deque;
use sel4_microkit::{debug_println, Channel, ChannelSet};

use crate::lifecycle::{record_ticks, timings, RENEW};
use crate::MuxPd;
use edgeos_pd_ring::counter;

pub struct Manager {
    page: MappedPage,
    /// The bit on which the manager signals us.
    channel: Channel,
    /// Requests not yet on the page: the ring holds `comm::CAPACITY`, and
    /// more go as the manager answers.
    waiting: Deque<Request, { 2 * crate::MAX_SLOTS }>,
    /// Dynamic FWPs in the configuration, and how many have been created
    /// once (for the line saying all are in place).
    configured: usize,
    first_creations: usize,
}

impl Manager {
    /// The link `config` describes, after asking for every dynamic FWP.
    pub fn start(config: &MuxConfig) -> Option<Self> {
        let ManagerLink { comm, signal } = config.manager?;
        // SAFETY: sysdesc maps the comm page rw into this PD at `comm`
        // (`sysdesc check` verifies it against the manager's blob).
        let page = unsafe { MappedPage::new(comm as usize) };
        let configured = config.slots.iter().filter(|s| s.dynamic.is_some()).count();
        let mut manager =
            Self { page, channel: Channel::new(signal.into()), waiting: Deque::new(), configured, first_creations: 0 };
        let mut asked = 0;
        for k in config.slots.iter().filter_map(|s| s.dynamic) {
            if manager.waiting.push_back(Request::Create(k)).is_ok() {
                asked += 1;
            }
        }
        manager.flush();
        debug_println!("mux: asked the FWP manager for {asked} dynamic FWPs");
        Some(manager)
    }

    /// Puts waiting requests on the page while it has room, and signals the
    /// manager if any went. A renewal is timed from its destroy request.
    fn flush(&mut self) -> bool {
        let mut sent = false;
        while let Some(request) = self.waiting.front().copied() {
            if comm::send_request(&self.page, request).is_err() {
                break;
            }
            if let Request::Destroy(k) = request {
                timings().renewals.requested(k, counter());
            }
            self.waiting.pop_front();
            sent = true;
        }
        if sent {
            Self::signal_manager();
        }
        sent
    }

    fn signal_manager() {
        sel4::cap::Notification::from_bits(caps::cptr(caps::MANAGER_SIGNAL)).signal();
    }

    /// Asks for dynamic FWP `k` to be destroyed and created anew.
    fn replace(&mut self, k: u16) -> Result<(), Request> {
        self.waiting.push_back(Request::Destroy(k))?;
        if let Err(create) = self.waiting.push_back(Request::Create(k)) {
            self.waiting.pop_back();
            return Err(create);
        }
        self.flush();
        Ok(())
    }

    pub fn signalled(&self, channels: ChannelSet) -> bool {
        channels.contains(self.channel)
    }
}

impl MuxPd {
    /// A draining dynamic FWP that faulted, or whose template renews its
    /// FWPs, is destroyed and created anew by the manager instead of
    /// scrubbed: nothing it touched survives. `true` if the manager took
    /// it (the slot leaves the pool until the new FWP joins).
    pub(crate) fn replace_if_due(&mut self, slot: usize) -> bool {
        let due = match self.mux.fwps().pool().state(slot) {
            Ok(SlotState::Draining { reason: TeardownReason::Fault, .. }) => true,
            Ok(SlotState::Draining { .. }) => self.children.renews(slot),
            _ => false,
        };
        let (Some(manager), Some(k), true) = (&mut self.manager, self.children.dynamic_index(slot), due) else {
            return false;
        };
        // Suspended first: nothing of it runs while the manager works, and
        // nothing here reads its memory once the manager may unmap it.
        self.children.stop(slot);
        match manager.replace(k) {
            Ok(()) => {
                self.children.set_mapped(slot, false);
                let _ = self.mux.retire(slot);
                true
            }
            Err(_) => {
                debug_println!("mux: too many requests wait for the FWP manager: slot {slot} scrubbed, not replaced");
                false
            }
        }
    }

    /// The manager answered: created FWPs join their templates' pools.
    pub(crate) fn manager_signalled(&mut self) {
        let Some(manager) = &self.manager else { return };
        self.mux.set_manager_figures(comm::read_figures(&manager.page));
        let (mut joined, mut read) = (0, 0);
        loop {
            let (request, status) = match comm::next_completion(&manager.page) {
                Ok(Some(Some(done))) => {
                    read += 1;
                    done
                }
                Ok(None) => break,
                Ok(Some(None)) => {
                    debug_println!("mux: ERROR: the FWP manager wrote a completion that does not decode");
                    continue;
                }
                Err(comm::Broken) => {
                    debug_println!("mux: ERROR: the FWP manager broke the completion ring");
                    break;
                }
            };
            if let (Request::Create(k), Status::Done) = (request, status) {
                if let Some(ticks) = timings().renewals.created(k, counter()) {
                    record_ticks(RENEW, ticks);
                }
            }
            let k = usize::from(request.fwp());
            match (request, status) {
                (Request::Create(_), Status::Done) => {
                    let Some(slot) = self.children.slot_of_dynamic(k) else {
                        debug_println!("mux: ERROR: the FWP manager created FWP {k}, which no slot names");
                        continue;
                    };
                    self.children.set_mapped(slot, true);
                    self.times.created(slot);
                    let template = TemplateId(self.children.template_of(slot) as u8);
                    match self.mux.slot_created(slot, template, self.children.reset(slot)) {
                        Ok(()) => joined += 1,
                        Err(e) => debug_println!("mux: ERROR: dynamic FWP {k} (slot {slot}) not taken: {e}"),
                    }
                }
                (Request::Destroy(_), Status::Done) => {}
                (request, status) => debug_println!("mux: ERROR: the FWP manager answered {request:?} with {status:?}"),
            }
        }
        // The manager took requests off the page: those that waited go now.
        // It takes a request only with room for its answer, so it hears
        // of the room made here even when no request went.
        if let Some(manager) = &mut self.manager {
            if !manager.flush() && read > 0 {
                Manager::signal_manager();
            }
        }
        if joined > 0 {
            if let Some(manager) = &mut self.manager {
                let before = manager.first_creations;
                if before < manager.configured {
                    debug_println!("mux: {joined} dynamic FWPs created by the FWP manager joined their pools");
                }
                manager.first_creations = (before + joined).min(manager.configured);
                if before < manager.configured && manager.first_creations == manager.configured {
                    debug_println!("mux: all {} dynamic FWPs are in their pools", manager.configured);
                }
            }
            self.apply();
        }
    }
}
