//! `werf graph --format html` and `--serve`: one self-contained page (our own JS and CSS,
//! compiled into the binary; no network, no CDN) drawing the graph `werf graph` computes.
//!
//! - [`page`]: the HTML, with the graph and the why of each changed node embedded as JSON.
//! - [`serve`]: the page on a loopback address.

pub mod page;
pub mod serve;
