//! Values shared by every stage: label matchers (and, with the engine, labels, samples and
//! histograms).

mod matcher;

pub use matcher::{MatchOp, Matcher, MatcherError};
pub(crate) use matcher::{is_legacy_label_name, write_quoted};
