//! How a front-end forwards client packets to a remote back-end
//! (`encap` in the configuration).
//!
//! * `none` (the default): the packet itself, its destination rewritten to
//!   the back-end's address, routed out again. The back-end takes it for a
//!   handed-off flow only if its Ethernet source is its neighbour entry
//!   for the front-end that handed the flow off, so back-ends share the
//!   front-end's link.
//! * `ipip`: the same packet inside an outer IPv4 header (protocol 4, as
//!   IPVS's tunnel mode and Katran send) from the front-end's node address
//!   to the back-end's. The back-end takes it only if the outer source is
//!   the front-end that handed the flow off, strips the outer header and
//!   lets the inner packet into its stack. Back-ends may then sit on other
//!   subnets, behind routers. The outer header costs 20 bytes of every
//!   packet: the front-end announces an MSS 20 bytes smaller and sizes its
//!   "fragmentation needed" answers likewise, so no client segment needs
//!   fragmenting.
//!
//! A back-end takes either form, whatever its own `encap` says: the
//! setting is about what this node sends.

use super::classify::{classify, Class};
use super::ipv4::Ipv4Header;

/// The `encap` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encap {
    /// Forwarded packets are routed as they are.
    #[default]
    None,
    /// Forwarded packets go inside an outer IPv4 header.
    Ipip,
}

/// IP protocol number of IPv4-in-IPv4.
pub const IPPROTO_IPIP: u8 = 4;
/// Bytes the outer header adds.
pub const IPIP_OVERHEAD: u16 = 20;

impl Encap {
    /// The setting named `s`.
    pub fn parse(s: &str) -> Option<Encap> {
        match s {
            "none" => Some(Encap::None),
            "ipip" => Some(Encap::Ipip),
            _ => None,
        }
    }

    /// Its name in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Encap::None => "none",
            Encap::Ipip => "ipip",
        }
    }

    /// Bytes it adds to every forwarded packet.
    pub fn overhead(self) -> u16 {
        match self {
            Encap::None => 0,
            Encap::Ipip => IPIP_OVERHEAD,
        }
    }
}

/// An IPIP packet as a back-end receives it: the outer source and where
/// the inner packet starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpipPacket {
    /// The outer header's source (host order): who sent it.
    pub outer_src: u32,
    /// Offset of the inner IPv4 header.
    pub inner_offset: usize,
}

/// `pkt` (from its IPv4 header on) as an IPIP packet, if it is one that is
/// whole (not a fragment).
pub fn ipip_packet(pkt: &[u8]) -> Option<IpipPacket> {
    match classify(pkt) {
        Class::NotTcp {
            protocol: IPPROTO_IPIP,
        } => {}
        _ => return None,
    }
    let ip = Ipv4Header::parse(pkt).ok()?;
    Some(IpipPacket {
        outer_src: ip.src,
        inner_offset: ip.header_len(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn outer(proto: u8, frag: u16) -> [u8; 40] {
        let mut p = [0u8; 40];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&40u16.to_be_bytes());
        p[6..8].copy_from_slice(&frag.to_be_bytes());
        p[8] = 64;
        p[9] = proto;
        p[12..16].copy_from_slice(&[10, 99, 0, 10]);
        p[16..20].copy_from_slice(&[10, 99, 0, 11]);
        let sum = crate::csum::ipv4_header_checksum(&p[..20]).unwrap();
        p[10..12].copy_from_slice(&sum.to_be_bytes());
        p
    }

    #[test]
    fn an_ipip_packet_names_its_sender_and_inner_offset() {
        assert_eq!(
            ipip_packet(&outer(4, 0x4000)),
            Some(IpipPacket {
                outer_src: 0x0a63_000a,
                inner_offset: 20
            })
        );
    }

    #[test]
    fn other_protocols_and_fragments_are_not_tunnelled() {
        assert_eq!(ipip_packet(&outer(17, 0)), None);
        assert_eq!(ipip_packet(&outer(4, 0x2000)), None);
        assert_eq!(ipip_packet(&outer(4, 0x0001)), None);
        assert_eq!(ipip_packet(&[0x45, 0, 0]), None);
    }

    #[test]
    fn settings() {
        for e in [Encap::None, Encap::Ipip] {
            assert_eq!(Encap::parse(e.name()), Some(e));
        }
        assert_eq!(Encap::parse("gre"), None);
        assert_eq!(Encap::default().overhead(), 0);
        assert_eq!(Encap::Ipip.overhead(), 20);
    }
}
