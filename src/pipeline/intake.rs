//! intake (stub)
