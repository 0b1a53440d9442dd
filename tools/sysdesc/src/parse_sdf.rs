//! Reads an existing Microkit system description into the model.
//!
//! It uses `roxmltree`, as the Microkit tool does, because it keeps every
//! node's source position: each model element remembers its `line:col`.
//! Attributes follow the Microkit tool's allow-lists; attributes the tool
//! accepts but sysdesc does not model give a warning (checks ignore them),
//! anything else an error. Unlike the tool, it never stops at the first
//! problem and never panics: ids the tool parses with `unwrap()` are checked
//! here first.

mod element;
mod issue;

use element::Element;
pub use issue::SdfIssue;

use crate::diagnostic::{Diagnostics, Span};
use crate::model::{
    Channel, ChannelEnd, ChannelId, ChildPd, Comment, Irq, IrqTrigger, Map, MemoryRegion, Perms,
    ProtectionDomain, SetVar, System, DEFAULT_BUDGET_US, DEFAULT_STACK_SIZE,
};

/// Parses SDF `text`, recording problems in `diags` (whose file spans refer
/// to). `None` when the text is not XML with a `<system>` root; otherwise
/// the model of everything that could be read (complete only when `diags`
/// has no errors).
pub fn parse(text: &str, diags: &mut Diagnostics) -> Option<System> {
    let doc = match roxmltree::Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let pos = e.pos();
            diags.push(
                SdfIssue::Syntax {
                    message: e.to_string(),
                },
                Span {
                    line: pos.row,
                    col: pos.col,
                },
            );
            return None;
        }
    };
    let root = doc.root_element();
    let mut p = Parser { doc: &doc, diags };
    if root.tag_name().name() != "system" {
        let message = format!(
            "the root element is <{}>, not <system>",
            root.tag_name().name()
        );
        p.diags.push(SdfIssue::Syntax { message }, p.span(root));
        return None;
    }
    let mut sys = System {
        comment: preceding_comment(root),
        ..System::default()
    };
    for node in p.children(root) {
        match node.tag_name().name() {
            "memory_region" => sys.memory_regions.extend(p.memory_region(node)),
            "protection_domain" => sys
                .protection_domains
                .extend(p.protection_domain(node, false).map(|(pd, _)| pd)),
            "channel" => sys.channels.extend(p.channel(node)),
            "domains" => p.not_modelled(root, node),
            _ => p.unexpected(root, node),
        }
    }
    Some(sys)
}

/// The text of the comment right before `node`, if any.
fn preceding_comment(node: roxmltree::Node<'_, '_>) -> Comment {
    let mut prev = node.prev_sibling();
    while let Some(n) = prev {
        if n.is_comment() {
            return Comment(n.text().map(|t| t.trim().to_string()));
        }
        if !(n.is_text() && n.text().is_some_and(|t| t.trim().is_empty())) {
            break;
        }
        prev = n.prev_sibling();
    }
    Comment::default()
}

type Node<'a, 'input> = roxmltree::Node<'a, 'input>;

/// A child PD's `id` and `setvar_id`.
type ChildId = (u64, Option<String>);

struct Parser<'d, 'input> {
    doc: &'d roxmltree::Document<'input>,
    diags: &'d mut Diagnostics,
}

impl<'d, 'input> Parser<'d, 'input> {
    fn span(&self, node: Node<'_, '_>) -> Span {
        let pos = self.doc.text_pos_at(node.range().start);
        Span {
            line: pos.row,
            col: pos.col,
        }
    }

    /// The element children of `node`; stray text is reported.
    fn children(&mut self, node: Node<'d, 'input>) -> Vec<Node<'d, 'input>> {
        let mut out = Vec::new();
        for child in node.children() {
            if child.is_element() {
                out.push(child);
            } else if child.is_text() && child.text().is_some_and(|t| !t.trim().is_empty()) {
                let element = node.tag_name().name().to_string();
                self.diags
                    .push(SdfIssue::UnexpectedText { element }, self.span(child));
            }
        }
        out
    }

    fn unexpected(&mut self, parent: Node<'_, '_>, node: Node<'_, '_>) {
        let issue = SdfIssue::UnexpectedElement {
            element: node.tag_name().name().to_string(),
            parent: parent.tag_name().name().to_string(),
        };
        self.diags.push(issue, self.span(node));
    }

    fn not_modelled(&mut self, parent: Node<'_, '_>, node: Node<'_, '_>) {
        let issue = SdfIssue::NotModelled {
            element: parent.tag_name().name().to_string(),
            what: format!("child <{}>", node.tag_name().name()),
        };
        self.diags.push(issue, self.span(node));
    }

    fn element<'p>(
        &'p mut self,
        node: Node<'d, 'input>,
        known: &[&str],
        unmodelled: &[&str],
    ) -> Element<'p, 'd, 'input> {
        let span = self.span(node);
        Element::new(node, span, self.diags, known, unmodelled)
    }

    fn memory_region(&mut self, node: Node<'d, 'input>) -> Option<MemoryRegion> {
        self.children(node);
        let mut e = self.element(
            node,
            &["name", "size", "page_size", "phys_addr", "prefill_path"],
            &["prefill_bootinfo"],
        );
        let name = e.required_str("name");
        let size = e.required_number("size");
        let page_size = e.number("page_size");
        let phys_addr = e.number("phys_addr");
        let prefill_path = e.str("prefill_path");
        let span = e.span;
        Some(MemoryRegion {
            name: name?,
            size: size?,
            page_size,
            phys_addr,
            prefill_path,
            span,
            comment: preceding_comment(node),
        })
    }

    fn map(&mut self, node: Node<'d, 'input>) -> Option<Map> {
        self.children(node);
        let mut e = self.element(
            node,
            &[
                "mr",
                "vaddr",
                "perms",
                "cached",
                "setvar_vaddr",
                "setvar_size",
            ],
            &["setvar_prefill_size"],
        );
        let mr = e.required_str("mr");
        let vaddr = e.required_number("vaddr");
        let perms = match e.str("perms") {
            None => Some(Perms::RW),
            Some(s) => Perms::parse(&s).or_else(|| {
                e.bad("perms", &s, "a combination of 'r', 'w' and 'x'");
                None
            }),
        };
        let cached = e.bool("cached").unwrap_or(true);
        let (setvar_vaddr, setvar_size) = (e.str("setvar_vaddr"), e.str("setvar_size"));
        Some(Map {
            mr: mr?,
            vaddr: vaddr?,
            perms: perms?,
            cached,
            setvar_vaddr,
            setvar_size,
            span: e.span,
        })
    }

    fn irq(&mut self, node: Node<'d, 'input>) -> Option<Irq> {
        self.children(node);
        let mut e = self.element(node, &["irq", "id", "setvar_id", "trigger"], &[]);
        let irq = e.required_decimal("irq");
        let id = e.required_decimal("id");
        let trigger = match e.str("trigger").as_deref() {
            None | Some("level") => Some(IrqTrigger::Level),
            Some("edge") => Some(IrqTrigger::Edge),
            Some(other) => {
                e.bad("trigger", other, "'level' or 'edge'");
                None
            }
        };
        let setvar_id = e.str("setvar_id");
        Some(Irq {
            irq: irq?,
            id: ChannelId(id?),
            trigger: trigger?,
            setvar_id,
            span: e.span,
            comment: preceding_comment(node),
        })
    }

    fn setvar(&mut self, node: Node<'d, 'input>) -> Option<SetVar> {
        self.children(node);
        let mut e = self.element(node, &["symbol", "region_paddr"], &[]);
        let symbol = e.required_str("symbol");
        let region_paddr = e.required_str("region_paddr");
        Some(SetVar {
            symbol: symbol?,
            region_paddr: region_paddr?,
            span: e.span,
        })
    }

    /// A PD and, for a child, its id and setvar_id.
    fn protection_domain(
        &mut self,
        node: Node<'d, 'input>,
        is_child: bool,
    ) -> Option<(ProtectionDomain, Option<ChildId>)> {
        let mut known = vec![
            "name",
            "priority",
            "budget",
            "period",
            "passive",
            "stack_size",
            "cpu",
            "fpu",
        ];
        if is_child {
            known.extend(["id", "setvar_id"]);
        }
        let mut e = self.element(node, &known, &["smc", "domain"]);
        let name = e.required_str("name");
        let child = if is_child {
            e.required_number("id")
                .map(|id| Some((id, e.str("setvar_id"))))
        } else {
            Some(None)
        };
        let priority = e.number("priority").unwrap_or(0);
        let budget = e.number("budget").unwrap_or(DEFAULT_BUDGET_US);
        let period = e.number("period").unwrap_or(budget);
        let passive = e.bool("passive").unwrap_or(false);
        let stack_size = e.number("stack_size").unwrap_or(DEFAULT_STACK_SIZE);
        let cpu = e.number("cpu").unwrap_or(0);
        let fpu = e.bool("fpu").unwrap_or(true);
        let span = e.span;
        let mut pd = ProtectionDomain {
            name: name?.as_str().into(),
            program: String::new(),
            priority,
            budget,
            period,
            passive,
            stack_size,
            cpu,
            fpu,
            maps: Vec::new(),
            irqs: Vec::new(),
            setvars: Vec::new(),
            children: Vec::new(),
            span,
            comment: preceding_comment(node),
        };
        let mut program = None;
        for c in self.children(node) {
            match c.tag_name().name() {
                "program_image" => {
                    self.children(c);
                    let path = self
                        .element(c, &["path"], &["path_for_symbols"])
                        .required_str("path");
                    if program.is_some() {
                        let issue = SdfIssue::Repeated {
                            element: "program_image".into(),
                            parent: "protection_domain".into(),
                        };
                        self.diags.push(issue, self.span(c));
                    }
                    program = program.or(path);
                }
                "map" => pd.maps.extend(self.map(c)),
                "irq" => pd.irqs.extend(self.irq(c)),
                "setvar" => pd.setvars.extend(self.setvar(c)),
                "protection_domain" => {
                    if let Some((child_pd, Some((id, setvar_id)))) = self.protection_domain(c, true)
                    {
                        pd.children.push(ChildPd {
                            id,
                            setvar_id,
                            pd: child_pd,
                        });
                    }
                }
                "virtual_machine" | "ioport" | "cspace" => self.not_modelled(node, c),
                _ => self.unexpected(node, c),
            }
        }
        match program {
            Some(p) => pd.program = p,
            None => {
                self.diags.push(
                    SdfIssue::Missing {
                        element: "protection_domain".into(),
                        what: "a <program_image>".into(),
                    },
                    span,
                );
            }
        }
        Some((pd, child?))
    }

    fn channel(&mut self, node: Node<'d, 'input>) -> Option<Channel> {
        self.element(node, &[], &[]);
        let span = self.span(node);
        let mut ends = Vec::new();
        for c in self.children(node) {
            if c.tag_name().name() != "end" {
                self.unexpected(node, c);
                continue;
            }
            self.children(c);
            let mut e = self.element(c, &["pd", "id", "pp", "notify", "setvar_id"], &[]);
            let pd = e.required_str("pd");
            let id = e.required_decimal("id");
            let pp = e.bool("pp").unwrap_or(false);
            let notify = e.bool("notify").unwrap_or(true);
            let setvar_id = e.str("setvar_id");
            if let (Some(pd), Some(id)) = (pd, id) {
                ends.push(ChannelEnd {
                    pd: pd.as_str().into(),
                    id: ChannelId(id),
                    pp,
                    notify,
                    setvar_id,
                    span: e.span,
                });
            }
        }
        match <[ChannelEnd; 2]>::try_from(ends) {
            Ok(ends) => Some(Channel {
                ends,
                span,
                comment: preceding_comment(node),
            }),
            Err(ends) => {
                let what = format!("exactly two valid <end> children (found {})", ends.len());
                self.diags.push(
                    SdfIssue::Missing {
                        element: "channel".into(),
                        what,
                    },
                    span,
                );
                None
            }
        }
    }
}
