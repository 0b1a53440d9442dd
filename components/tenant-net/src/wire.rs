//! A point-to-point Ethernet wire between two smoltcp interfaces, for tests
//! of tenant templates on the host (feature `wire`): frames go into the
//! other end's queue, nothing is lost or reordered.

extern crate std;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::vec;
use std::vec::Vec;

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

type Queue = Rc<RefCell<VecDeque<Vec<u8>>>>;

/// One end of a wire: a smoltcp `phy::Device`.
pub struct Port {
    inbox: Queue,
    outbox: Queue,
}

/// Two connected ends.
pub fn wire() -> (Port, Port) {
    let (a, b): (Queue, Queue) = Default::default();
    (Port { inbox: a.clone(), outbox: b.clone() }, Port { inbox: b, outbox: a })
}

/// A received frame.
pub struct Rx(Vec<u8>);
/// Room for a frame to send.
pub struct Tx(Queue);

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for Tx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        self.0.borrow_mut().push_back(frame);
        r
    }
}

impl phy::Device for Port {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx)> {
        let frame = self.inbox.borrow_mut().pop_front()?;
        Some((Rx(frame), Tx(self.outbox.clone())))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx> {
        Some(Tx(self.outbox.clone()))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}
