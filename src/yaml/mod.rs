//! Located YAML, the toolkit every part of `rules.yaml` is read with: the file is read without
//! trusting what its path names ([`read`]; templates too), the text becomes a tree
//! that remembers the line and column of every key and value (`tree`), mappings are read
//! field by field with typed accessors that report wrong types, unknown and repeated keys
//! (`fields`), small value languages are parsed (durations, sizes, rate limits, URLs:
//! `values`), every problem is collected with its `file:line:col` (`report`), and a loaded
//! file is written back with its secrets hidden, for people to read (`show`). The
//! configuration ([`crate::config`]) and each target kind ([`crate::targets`]) read their own
//! sections with it.

pub(crate) mod fields;
pub mod read;
pub(crate) mod report;
pub(crate) mod show;
pub(crate) mod tree;
pub(crate) mod values;

pub use report::{ConfigError, ConfigErrors, Location};
pub use values::RateLimit;
