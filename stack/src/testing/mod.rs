//! Test harnesses (compiled for tests only): a two-stack `Pair` joined by
//! an in-memory link with seeded loss, duplication, reordering and delay
//! under a virtual clock (quinn-proto's model), and packet-trace helpers
//! that feed exact segments to one stack and read its exact replies.

pub mod bottleneck;
pub mod gso;
pub mod pair;
pub mod trace;

#[cfg(test)]
mod deadlock_tests;

#[cfg(test)]
mod gso_tests;

#[cfg(test)]
mod ipv6_tests;

#[cfg(test)]
mod loss_tests;

#[cfg(test)]
mod prop_tests;

#[cfg(test)]
mod race_tests;

#[cfg(test)]
mod reass_tests;

#[cfg(test)]
mod udp_gso_tests;
