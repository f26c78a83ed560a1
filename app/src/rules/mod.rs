//! Rate rules (SPEC §3): the rules of a web ACL as AWS writes them, read
//! into a model the editor understands without ever losing what it does
//! not. Pure: no I/O, compiled for the server and for the browser.

pub mod model;
pub mod validate;

#[cfg(test)]
mod round_trip;
