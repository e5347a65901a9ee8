//! The pure core of btcp: packet parsing, checksums and sequence
//! arithmetic, with no I/O, no allocation and no `unsafe`.
//!
//! These files are built twice: as the `btcp_core` crate for host tests, and
//! into the kernel module as a plain module via `#[path]`. So nothing here
//! may assume it is a crate root (no `crate::` paths; siblings are reached
//! with `super::`), and nothing may panic on packet data: a panic in the
//! kernel is a `BUG()`, and overflow checks are on there.
//!
//! In the kernel build, declare the module as
//! `#[allow(unused_attributes)] #[path = "..."] pub mod btcp_core;`:
//! `#![no_std]` below is only meaningful at a crate root and rustc warns
//! about it anywhere else.
//!
//! ```
//! use btcp_core::tcp_options::{find_option, KIND_TIMESTAMPS};
//! use btcp_core::{classify, Class, SegmentKind};
//!
//! # let packet = [
//! #     0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x9c, 0xbc,
//! #     0xc0, 0xa8, 0x00, 0x68, 0xc0, 0xa8, 0x00, 0x01, 0xc8, 0x22, 0x00, 0x50,
//! #     0x6a, 0x2c, 0x1b, 0x3d, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0,
//! #     0x47, 0x21, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a,
//! #     0x0a, 0x1b, 0x2c, 0x3d, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
//! # ];
//! // `packet`: a Linux SYN, from its IPv4 header on.
//! let Class::Tcp(seg) = classify(&packet) else { return };
//! assert_eq!(seg.kind(), SegmentKind::Syn);
//! let opts = seg.tcp.parse_options(&packet[seg.tcp_offset..]);
//! assert_eq!((opts.mss, opts.wscale, opts.sack_permitted), (Some(1460), Some(7), true));
//! // Where the timestamps sit, to rewrite them in place.
//! let (off, len) = find_option(seg.options(&packet), KIND_TIMESTAMPS).unwrap();
//! assert_eq!((seg.options_offset() + off, len), (46, 10));
//! ```
#![no_std]
#![forbid(unsafe_code)]
// Panic-free by construction: these catch the usual ways to panic.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented,
    clippy::unreachable,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

pub mod backend;
pub mod build;
mod bytes;
pub mod classify;
pub mod client_limit;
pub mod config;
pub mod csum;
pub mod dispatch;
pub mod encap;
pub mod error;
pub mod flow;
pub mod framing;
pub mod frontend;
pub mod health;
pub mod http;
pub mod ipv4;
pub mod isn;
pub mod keyroll;
pub mod metrics;
pub mod node;
pub mod peer;
pub mod policy;
pub mod reqbuf;
pub mod rules;
pub mod scope;
pub mod segment;
pub mod seq;
pub mod shard;
pub mod syncookie;
pub mod table;
pub mod tcp;
pub mod tcp_options;
pub mod timeouts;
pub mod tls;
pub mod wheel;
pub mod wire;
pub mod xlate;

pub use classify::{classify, Class, SegmentKind, TcpPacket};
pub use error::{BuildError, ParseError};
pub use ipv4::Ipv4Header;
pub use tcp::{Flags, TcpHeader};
pub use tcp_options::{find_option, RawOptions, TcpOption, TcpOptions};

#[cfg(test)]
mod testdata;
