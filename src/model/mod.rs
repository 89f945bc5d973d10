//! Values shared by every stage: label matchers (and, with the engine, labels, samples and
//! histograms).

mod matcher;

pub use matcher::{MatchOp, Matcher, MatcherError};
