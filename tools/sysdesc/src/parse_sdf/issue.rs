//! What can be wrong with an SDF file as XML.

use std::fmt;

use crate::diagnostic::Severity;

/// What can be wrong with an SDF file as XML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SdfIssue {
    /// The file could not be read.
    Read {
        /// The reason, from the operating system.
        reason: String,
    },
    /// Not well-formed XML, or the root is not `<system>`.
    Syntax {
        /// The XML parser's message.
        message: String,
    },
    /// An element that does not belong where it is.
    UnexpectedElement {
        /// The element's tag.
        element: String,
        /// Its parent's tag.
        parent: String,
    },
    /// A child element given more than once where one is allowed.
    Repeated {
        /// The child's tag.
        element: String,
        /// Its parent's tag.
        parent: String,
    },
    /// Text inside an element that takes none.
    UnexpectedText {
        /// The element's tag.
        element: String,
    },
    /// An attribute the Microkit tool rejects.
    UnknownAttribute {
        /// The element's tag.
        element: String,
        /// The attribute.
        attribute: String,
    },
    /// A required attribute or child is missing.
    Missing {
        /// The element's tag.
        element: String,
        /// What is missing (`attribute 'id'`, `<program_image>`).
        what: String,
    },
    /// An attribute value of the wrong form.
    BadValue {
        /// The element's tag.
        element: String,
        /// The attribute.
        attribute: String,
        /// The value as written.
        value: String,
        /// What it must be.
        expected: &'static str,
    },
    /// Something the Microkit tool accepts that sysdesc does not model.
    NotModelled {
        /// The element's tag.
        element: String,
        /// The attribute or child element.
        what: String,
    },
}

impl SdfIssue {
    /// [`SdfIssue::NotModelled`] is a warning; everything else an error.
    pub fn severity(&self) -> Severity {
        match self {
            SdfIssue::NotModelled { .. } => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for SdfIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdfIssue::Read { reason } => write!(f, "cannot read the system description: {reason}"),
            SdfIssue::Syntax { message } => write!(f, "invalid XML: {message}"),
            SdfIssue::UnexpectedElement { element, parent } => {
                write!(f, "element <{element}> is not allowed in <{parent}>")
            }
            SdfIssue::Repeated { element, parent } => {
                write!(f, "<{element}> must only be given once in <{parent}>")
            }
            SdfIssue::UnexpectedText { element } => write!(f, "unexpected text in <{element}>"),
            SdfIssue::UnknownAttribute { element, attribute } => {
                write!(f, "attribute '{attribute}' is not allowed on <{element}>")
            }
            SdfIssue::Missing { element, what } => write!(f, "<{element}> needs {what}"),
            SdfIssue::BadValue {
                element,
                attribute,
                value,
                expected,
            } => {
                write!(
                    f,
                    "attribute '{attribute}' on <{element}> must be {expected}: '{value}'"
                )
            }
            SdfIssue::NotModelled { element, what } => {
                write!(
                    f,
                    "{what} on <{element}> is not modelled by sysdesc; its checks ignore it"
                )
            }
        }
    }
}
