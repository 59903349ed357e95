//! The store against real SQLite files: intake ([`ingest`]), the delivery queue ([`lanes`]) and
//! the router over it ([`router`]).

mod ingest;
mod lanes;
mod router;
