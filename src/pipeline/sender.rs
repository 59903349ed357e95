//! sender (stub)
