//! The multiplexer's side of the FWP manager (the root task): it asks for
//! every dynamic FWP at start, and a created one joins its template's pool
//! like a slot PD. The protocol is `edgeos_fwp_manager::comm`; the manager's
//! answers are untrusted like any shared memory's.

use edgeos_config::{ManagerLink, MuxConfig};
use edgeos_fwp::{SlotState, TeardownReason, TemplateId};
use edgeos_fwp_manager::caps;
use edgeos_fwp_manager::comm::{self, MappedPage, Request, Status};
use sel4_microkit::{debug_println, Channel, ChannelSet};

use crate::MuxPd;

pub struct Manager {
    page: MappedPage,
    /// The bit on which the manager signals us.
    channel: Channel,
}

impl Manager {
    /// The link `config` describes, after asking for every dynamic FWP.
    pub fn start(config: &MuxConfig) -> Option<Self> {
        let ManagerLink { comm, signal } = config.manager?;
        // SAFETY: sysdesc maps the comm page rw into this PD at `comm`
        // (`sysdesc check` verifies it against the manager's blob).
        let page = unsafe { MappedPage::new(comm as usize) };
        let manager = Self { page, channel: Channel::new(signal.into()) };
        let mut asked = 0;
        for k in config.slots.iter().filter_map(|s| s.dynamic) {
            match comm::send_request(&manager.page, Request::Create(k)) {
                Ok(()) => asked += 1,
                Err(comm::Full) => debug_println!("mux: ERROR: the manager's request ring is full; dynamic FWP {k} not asked for"),
            }
        }
        if asked > 0 {
            manager.signal();
        }
        debug_println!("mux: asked the FWP manager for {asked} dynamic FWPs");
        Some(manager)
    }

    /// Asks for dynamic FWP `k` to be destroyed and created anew.
    fn replace(&self, k: u16) -> Result<(), comm::Full> {
        comm::send_request(&self.page, Request::Destroy(k))?;
        comm::send_request(&self.page, Request::Create(k))?;
        self.signal();
        Ok(())
    }

    fn signal(&self) {
        sel4::cap::Notification::from_bits(caps::cptr(caps::MANAGER_SIGNAL)).signal();
    }

    pub fn signalled(&self, channels: ChannelSet) -> bool {
        channels.contains(self.channel)
    }
}

impl MuxPd {
    /// A faulted dynamic FWP is not scrubbed and reused: the manager
    /// destroys it (its memory and every object go back) and creates a
    /// fresh one for the slot. `true` when slot `slot` is handled so.
    pub(crate) fn replace_if_faulted(&mut self, slot: usize) -> bool {
        let faulted = matches!(
            self.mux.fwps().pool().state(slot),
            Ok(SlotState::Draining { reason: TeardownReason::Fault, .. })
        );
        let (Some(manager), Some(k), true) = (&self.manager, self.children.dynamic_index(slot), faulted) else {
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
            Err(comm::Full) => {
                debug_println!("mux: the FWP manager's request ring is full: slot {slot} scrubbed, not replaced");
                false
            }
        }
    }

    /// The manager answered: created FWPs join their templates' pools.
    pub(crate) fn manager_signalled(&mut self) {
        let Some(manager) = &self.manager else { return };
        let mut joined = 0;
        loop {
            let (request, status) = match comm::next_completion(&manager.page) {
                Ok(Some(Some(done))) => done,
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
            let k = usize::from(request.fwp());
            match (request, status) {
                (Request::Create(_), Status::Done) => {
                    let Some(slot) = self.children.slot_of_dynamic(k) else {
                        debug_println!("mux: ERROR: the FWP manager created FWP {k}, which no slot names");
                        continue;
                    };
                    self.children.set_mapped(slot, true);
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
        if joined > 0 {
            debug_println!("mux: {joined} dynamic FWPs created by the FWP manager joined their pools");
            self.apply();
        }
    }
}
