//! Writes a model as Microkit SDF XML.
//!
//! The output is a pure function of the model: the same model always gives
//! the same bytes. Sizes and addresses are written in hex, priorities,
//! budgets, periods and ids in decimal; every scheduling attribute is written
//! even where it equals Microkit's default, so a reader never has to know the
//! defaults. Each element's [`Comment`](crate::model::Comment) is written
//! before it.

use std::fmt::Write as _;

use crate::model::{
    Channel, ChannelEnd, Comment, IrqTrigger, Map, MemoryRegion, ProtectionDomain, SetVar, System,
};

const INDENT: &str = "    ";

/// The SDF text of `system`.
pub fn emit(system: &System) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if let Some(header) = &system.comment.0 {
        out.push_str("<!--\n");
        for line in header.lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                let _ = writeln!(out, "  {}", comment_text(line));
            }
        }
        out.push_str("-->\n");
    }
    out.push_str("<system>\n");
    for mr in &system.memory_regions {
        comment(&mut out, 1, &mr.comment);
        memory_region(&mut out, mr);
    }
    for pd in &system.protection_domains {
        out.push('\n');
        protection_domain(&mut out, 1, pd, None);
    }
    for ch in &system.channels {
        out.push('\n');
        channel(&mut out, ch);
    }
    out.push_str("</system>\n");
    out
}

/// Comment text that cannot end the comment early.
fn comment_text(text: &str) -> String {
    let mut s = text.replace("--", "- -");
    if s.ends_with('-') {
        s.push(' ');
    }
    s
}

fn comment(out: &mut String, depth: usize, c: &Comment) {
    if let Some(text) = c.0.as_deref().filter(|t| !t.is_empty()) {
        let _ = writeln!(
            out,
            "{}<!-- {} -->",
            INDENT.repeat(depth),
            comment_text(text)
        );
    }
}

fn escape(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            c => s.push(c),
        }
    }
    s
}

/// An element's attributes, in the order given.
struct Attrs(Vec<(&'static str, String)>);

impl Attrs {
    fn new() -> Self {
        Attrs(Vec::new())
    }
    fn add(mut self, name: &'static str, value: impl ToString) -> Self {
        self.0.push((name, value.to_string()));
        self
    }
    fn hex(self, name: &'static str, value: u64) -> Self {
        self.add(name, format!("{value:#x}"))
    }
    fn opt(self, name: &'static str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.add(name, v),
            None => self,
        }
    }
    fn when(self, cond: bool, name: &'static str, value: &str) -> Self {
        if cond {
            self.add(name, value)
        } else {
            self
        }
    }
    fn render(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!(" {k}=\"{}\"", escape(v)))
            .collect()
    }
}

fn element(out: &mut String, depth: usize, tag: &str, attrs: Attrs) {
    let _ = writeln!(out, "{}<{tag}{} />", INDENT.repeat(depth), attrs.render());
}

fn memory_region(out: &mut String, mr: &MemoryRegion) {
    let mut a = Attrs::new().add("name", &mr.name).hex("size", mr.size);
    if let Some(p) = mr.page_size {
        a = a.hex("page_size", p);
    }
    if let Some(p) = mr.phys_addr {
        a = a.hex("phys_addr", p);
    }
    a = a.opt("prefill_path", mr.prefill_path.as_deref());
    element(out, 1, "memory_region", a);
}

fn map(out: &mut String, depth: usize, m: &Map) {
    let a = Attrs::new()
        .add("mr", &m.mr)
        .hex("vaddr", m.vaddr)
        .add("perms", m.perms)
        .add("cached", m.cached)
        .opt("setvar_vaddr", m.setvar_vaddr.as_deref())
        .opt("setvar_size", m.setvar_size.as_deref());
    element(out, depth, "map", a);
}

fn protection_domain(
    out: &mut String,
    depth: usize,
    pd: &ProtectionDomain,
    child: Option<(u64, Option<&str>)>,
) {
    comment(out, depth, &pd.comment);
    let mut a = Attrs::new().add("name", &pd.name);
    if let Some((id, setvar_id)) = child {
        a = a.add("id", id).opt("setvar_id", setvar_id);
    }
    a = a
        .add("priority", pd.priority)
        .add("budget", pd.budget)
        .add("period", pd.period)
        .hex("stack_size", pd.stack_size)
        .when(pd.passive, "passive", "true")
        .when(pd.cpu != 0, "cpu", &pd.cpu.to_string())
        .when(!pd.fpu, "fpu", "false");
    let pad = INDENT.repeat(depth);
    let _ = writeln!(out, "{pad}<protection_domain{}>", a.render());
    element(
        out,
        depth + 1,
        "program_image",
        Attrs::new().add("path", &pd.program),
    );
    // A setvar region_paddr follows the map of its region, if the PD maps it.
    let setvar = |out: &mut String, s: &SetVar| {
        element(
            out,
            depth + 1,
            "setvar",
            Attrs::new()
                .add("symbol", &s.symbol)
                .add("region_paddr", &s.region_paddr),
        );
    };
    for m in &pd.maps {
        map(out, depth + 1, m);
        for s in pd.setvars.iter().filter(|s| s.region_paddr == m.mr) {
            setvar(out, s);
        }
    }
    for s in pd
        .setvars
        .iter()
        .filter(|s| !pd.maps.iter().any(|m| m.mr == s.region_paddr))
    {
        setvar(out, s);
    }
    for irq in &pd.irqs {
        comment(out, depth + 1, &irq.comment);
        let a = Attrs::new()
            .add("irq", irq.irq)
            .add("id", irq.id)
            .when(irq.trigger == IrqTrigger::Edge, "trigger", "edge")
            .opt("setvar_id", irq.setvar_id.as_deref());
        element(out, depth + 1, "irq", a);
    }
    for c in &pd.children {
        out.push('\n');
        protection_domain(out, depth + 1, &c.pd, Some((c.id, c.setvar_id.as_deref())));
    }
    let _ = writeln!(out, "{pad}</protection_domain>");
}

fn end(out: &mut String, e: &ChannelEnd) {
    let a = Attrs::new()
        .add("pd", &e.pd)
        .add("id", e.id)
        .when(e.pp, "pp", "true")
        .when(!e.notify, "notify", "false")
        .opt("setvar_id", e.setvar_id.as_deref());
    element(out, 2, "end", a);
}

fn channel(out: &mut String, ch: &Channel) {
    comment(out, 1, &ch.comment);
    let _ = writeln!(out, "{INDENT}<channel>");
    for e in &ch.ends {
        end(out, e);
    }
    let _ = writeln!(out, "{INDENT}</channel>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_attributes_are_escaped() {
        assert_eq!(comment_text("a -- b-"), "a - - b- ");
        assert_eq!(escape("a<\"&\">"), "a&lt;&quot;&amp;&quot;&gt;");
    }
}
