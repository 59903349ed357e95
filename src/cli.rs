//! command line (stub)
