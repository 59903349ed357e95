//! `${VAR}`, `${VAR:-default}` and `$${`.
//! (Filled in below.)
