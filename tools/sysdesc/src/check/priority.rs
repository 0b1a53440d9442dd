//! Priorities in sDDF's order, where whoever hands out buffers runs first:
//! every FWP below the mux, the mux below the driver. And protected
//! procedure calls only towards strictly higher priority (Microkit's rule,
//! which keeps the call graph acyclic and free of priority inversion).

use std::fmt;

use super::roles::Roles;
use crate::diagnostic::{Diagnostics, Severity, Span};
use crate::model::System;

/// A priority that breaks the order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PriorityIssue {
    /// A PD that must run below another does not.
    Order {
        /// The lower role (`FWP`, `mux`).
        lower_role: &'static str,
        /// The PD that must be lower.
        lower: String,
        /// Its priority.
        lower_priority: u64,
        /// The higher role (`mux`, `driver`).
        higher_role: &'static str,
        /// The PD that must be higher.
        higher: String,
        /// Its priority.
        higher_priority: u64,
    },
    /// A `pp="true"` end whose PD is not strictly below the other end's.
    CallNotUpward {
        /// The calling PD.
        caller: String,
        /// Its priority.
        caller_priority: u64,
        /// The called PD.
        callee: String,
        /// Its priority.
        callee_priority: u64,
    },
    /// The order could not be checked: a role is missing.
    RoleMissing {
        /// Which role, and how it is recognised.
        role: &'static str,
    },
}

impl PriorityIssue {
    /// [`PriorityIssue::RoleMissing`] is a note; the rest are errors.
    pub fn severity(&self) -> Severity {
        match self {
            PriorityIssue::RoleMissing { .. } => Severity::Note,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for PriorityIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PriorityIssue::Order { lower_role, lower, lower_priority, higher_role, higher, higher_priority } => write!(
                f,
                "sDDF priority order needs every {lower_role} below the {higher_role}: {lower_role} '{lower}' has priority {lower_priority}, {higher_role} '{higher}' has {higher_priority}"
            ),
            PriorityIssue::CallNotUpward { caller, caller_priority, callee, callee_priority } => write!(
                f,
                "protected procedure calls must go to a strictly higher priority: '{caller}' (priority {caller_priority}) calls '{callee}' (priority {callee_priority})"
            ),
            PriorityIssue::RoleMissing { role } => write!(f, "priority order not checked: no {role}"),
        }
    }
}

/// Checks the priority order and the direction of protected calls.
pub fn check(system: &System, roles: &Roles<'_>, diags: &mut Diagnostics) {
    match roles.mux {
        None => diags.push(
            PriorityIssue::RoleMissing {
                role: "mux (the parent of the FWPs)",
            },
            Span::UNKNOWN,
        ),
        Some(mux) => {
            for t in &roles.tenants {
                if t.priority >= mux.priority {
                    let issue = PriorityIssue::Order {
                        lower_role: "FWP",
                        lower: t.name.to_string(),
                        lower_priority: t.priority,
                        higher_role: "mux",
                        higher: mux.name.to_string(),
                        higher_priority: mux.priority,
                    };
                    diags.push(issue, t.span);
                }
            }
        }
    }
    match (roles.mux, roles.driver) {
        (_, None) => diags.push(
            PriorityIssue::RoleMissing {
                role: "driver (a PD with an <irq> that maps net_dma)",
            },
            Span::UNKNOWN,
        ),
        (Some(mux), Some(driver)) if mux.priority >= driver.priority => {
            let issue = PriorityIssue::Order {
                lower_role: "mux",
                lower: mux.name.to_string(),
                lower_priority: mux.priority,
                higher_role: "driver",
                higher: driver.name.to_string(),
                higher_priority: driver.priority,
            };
            diags.push(issue, mux.span);
        }
        _ => {}
    }
    for ch in &system.channels {
        for (caller, callee) in [(&ch.ends[0], &ch.ends[1]), (&ch.ends[1], &ch.ends[0])] {
            if !caller.pp {
                continue;
            }
            let (Some(a), Some(b)) = (system.pd(caller.pd.as_str()), system.pd(callee.pd.as_str()))
            else {
                continue; // An unknown PD is reported by the limits pass.
            };
            if a.priority >= b.priority {
                let issue = PriorityIssue::CallNotUpward {
                    caller: a.name.to_string(),
                    caller_priority: a.priority,
                    callee: b.name.to_string(),
                    callee_priority: b.priority,
                };
                diags.push(issue, caller.span);
            }
        }
    }
}
