//! Configuration variants: `system.toml` with a few fields changed, for a
//! system test or a benchmark that needs the node configured otherwise (the
//! soak's FWPs renewed by the manager, say), without a second copy of the
//! whole configuration to drift from the first.
//!
//! A variant is a TOML file whose tables name what they change: top-level
//! tables merge into the base's key by key, and `[templates.NAME]` changes
//! the fields of the base's `[[templates]]` entry with that `name`:
//!
//! ```toml
//! [templates.tcp_echo]
//! renew = true
//! ```
//!
//! The result keeps the base's layout and comments (`toml_edit`), so its
//! diagnostics point at lines a reader recognises. It is then loaded and
//! checked like any configuration: a field the variant sets to a wrong
//! value is reported there.

use thiserror::Error;
use toml_edit::{DocumentMut, Item, Table};

/// Why a variant cannot be applied.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum VariantError {
    /// The base or the variant is not TOML.
    #[error("{file} is not valid TOML: {reason}")]
    NotToml {
        /// "the base" or "the variant".
        file: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// `[templates.NAME]` names no template of the base.
    #[error("the variant changes template `{name}`, which the base does not have (it has: {known})")]
    UnknownTemplate {
        /// The name the variant gave.
        name: String,
        /// The base's template names.
        known: String,
    },
    /// `templates` in the variant is not a table of tables.
    #[error("`templates` in a variant must be tables named after templates (`[templates.NAME]`)")]
    TemplatesNotByName,
}

/// The base configuration with the variant's changes applied, as text.
pub fn apply(base: &str, variant: &str) -> Result<String, VariantError> {
    let mut doc: DocumentMut = base.parse().map_err(|e: toml_edit::TomlError| VariantError::NotToml {
        file: "the base",
        reason: e.message().to_string(),
    })?;
    let changes: DocumentMut = variant.parse().map_err(|e: toml_edit::TomlError| {
        VariantError::NotToml {
            file: "the variant",
            reason: e.message().to_string(),
        }
    })?;
    for (key, item) in changes.iter() {
        if key == "templates" {
            let by_name = item.as_table().ok_or(VariantError::TemplatesNotByName)?;
            change_templates(&mut doc, by_name)?;
        } else {
            merge(&mut doc[key], item);
        }
    }
    Ok(doc.to_string())
}

/// `text` (a configuration, e.g. a variant just derived) with every
/// template's relative `click` path made absolute from `dir`, the
/// directory of the configuration it came from: the derived file lives
/// elsewhere (under `build/`), and its Click files must still be found.
pub fn anchor_click_paths(text: &str, dir: &std::path::Path) -> String {
    let Ok(mut doc) = text.parse::<DocumentMut>() else { return text.to_string() };
    if let Some(templates) = doc.get_mut("templates").and_then(Item::as_array_of_tables_mut) {
        for template in templates.iter_mut() {
            let Some(file) = template.get("click").and_then(Item::as_str) else { continue };
            if std::path::Path::new(file).is_relative() {
                let anchored = dir.join(file).display().to_string();
                merge(&mut template["click"], &toml_edit::value(anchored));
            }
        }
    }
    doc.to_string()
}

fn change_templates(doc: &mut DocumentMut, by_name: &Table) -> Result<(), VariantError> {
    for (name, fields) in by_name.iter() {
        let fields = fields.as_table().ok_or(VariantError::TemplatesNotByName)?;
        let templates = doc.get_mut("templates").and_then(Item::as_array_of_tables_mut);
        let Some(templates) = templates else {
            return Err(VariantError::UnknownTemplate {
                name: name.to_string(),
                known: String::new(),
            });
        };
        let names: Vec<String> = templates
            .iter()
            .filter_map(|t| t.get("name").and_then(Item::as_str).map(str::to_string))
            .collect();
        let Some(template) = templates
            .iter_mut()
            .find(|t| t.get("name").and_then(Item::as_str) == Some(name))
        else {
            return Err(VariantError::UnknownTemplate {
                name: name.to_string(),
                known: names.join(", "),
            });
        };
        for (field, value) in fields.iter() {
            merge(&mut template[field], value);
        }
    }
    Ok(())
}

/// Sets `target` to `change`, key by key where both are tables (so a
/// variant's `[mux]` with one field leaves the base's other fields).
fn merge(target: &mut Item, change: &Item) {
    match (target.as_table_like_mut(), change.as_table_like()) {
        (Some(target), Some(change)) => {
            for (key, value) in change.iter() {
                match target.get_mut(key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        target.insert(key, value.clone());
                    }
                }
            }
        }
        _ => {
            // Keep the base's comment and spacing around a replaced value.
            match (target.as_value_mut(), change.as_value()) {
                (Some(old), Some(new)) => {
                    let decor = old.decor().clone();
                    *old = new.clone();
                    *old.decor_mut() = decor;
                }
                _ => *target = change.clone(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"board = "qemu_virt_aarch64"

[mux]
budget_us = 2500 # a quarter of the period
period_us = 10000

[[templates]]
name = "udp_echo"
renew = false

[[templates]]
name = "tcp_echo"
# Why it is off.
renew = false
slots = 1
"#;

    #[test]
    fn a_template_field_changes_in_that_template_alone_and_keeps_its_comment() {
        let out = apply(BASE, "[templates.tcp_echo]\nrenew = true\n").unwrap();
        let tcp = out.split("name = \"tcp_echo\"").nth(1).unwrap();
        assert!(tcp.contains("# Why it is off.\nrenew = true\n"), "{out}");
        let udp = out.split("name = \"tcp_echo\"").next().unwrap();
        assert!(udp.contains("renew = false"), "{out}");
    }

    #[test]
    fn a_top_level_table_merges_key_by_key() {
        let out = apply(BASE, "[mux]\nbudget_us = 10000\n").unwrap();
        assert!(out.contains("budget_us = 10000 # a quarter of the period"), "{out}");
        assert!(out.contains("period_us = 10000"), "{out}");
    }

    #[test]
    fn a_new_field_is_added() {
        let out = apply(BASE, "[templates.udp_echo]\ndynamic = 3\n").unwrap();
        let parsed: toml::Table = toml::from_str(&out).unwrap();
        let udp = &parsed["templates"].as_array().unwrap()[0];
        assert_eq!(udp["dynamic"].as_integer(), Some(3));
    }

    #[test]
    fn an_unknown_template_is_named_with_the_known_ones() {
        let err = apply(BASE, "[templates.tcp_ech]\nrenew = true\n").unwrap_err();
        assert_eq!(
            err,
            VariantError::UnknownTemplate {
                name: "tcp_ech".into(),
                known: "udp_echo, tcp_echo".into()
            }
        );
    }

    #[test]
    fn relative_click_paths_are_anchored_at_the_base_configuration() {
        let base = "[[templates]]\nname = \"nat\"\nclick = \"click/nat.click\" # the graph\n\n[[templates]]\nname = \"abs\"\nclick = \"/etc/x.click\"\n";
        let anchored = anchor_click_paths(base, std::path::Path::new("/repo"));
        assert!(anchored.contains("click = \"/repo/click/nat.click\" # the graph"), "{anchored}");
        assert!(anchored.contains("click = \"/etc/x.click\""), "{anchored}");
    }

    #[test]
    fn templates_must_be_named_tables() {
        let err = apply(BASE, "templates = 3\n").unwrap_err();
        assert_eq!(err, VariantError::TemplatesNotByName);
        let err = apply(BASE, "[templates]\ntcp_echo = 3\n").unwrap_err();
        assert_eq!(err, VariantError::TemplatesNotByName);
    }

    #[test]
    fn text_that_is_not_toml_is_refused_and_says_which_file() {
        assert!(matches!(apply(BASE, "[templates.tcp_echo\n"), Err(VariantError::NotToml { file: "the variant", .. })));
        assert!(matches!(apply("= 1", ""), Err(VariantError::NotToml { file: "the base", .. })));
    }
}
