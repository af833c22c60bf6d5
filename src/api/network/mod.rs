//! Microsoft.Network (being built on its own branch; this is the part compute needs first).

pub mod address;
