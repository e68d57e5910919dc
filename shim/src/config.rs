//! The shim's configuration from the environment (SOCKSHIM_*). It lives in
//! the `proto` crate because the service `sockshimd` reads the same
//! variables (the first client's environment configures the stack).

pub use proto::config::*;
