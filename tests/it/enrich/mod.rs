//! Enrichment: the enricher against a local MonitorQA API ([`lookups`]), and a whole relay that
//! routes and renders on what it looked up ([`routing`]).

mod lookups;
mod routing;
