//! one loaded configuration (stub)
