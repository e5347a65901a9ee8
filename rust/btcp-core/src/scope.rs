//! What a back-end takes a HANDOFF_REQ for.
//!
//! A HANDOFF_REQ makes the back-end replay a connection into its own
//! stack, to the request's port, and send the stack's answers to the
//! request's client from the request's VIP. A node holding the cluster key
//! could otherwise point that at any local port (replaying a request into
//! ssh) or at any address (a reflector). So a back-end takes a request
//! from a peer only for a VIP:port that peer announced in its last HELLO
//! (`wire::Hello::services`, its `service` lines), and only for a client
//! address that can be a remote client: not unspecified, loopback,
//! multicast, reserved or broadcast, and not a node of the cluster or the
//! VIP itself. Anything else is refused (a NACK, `OutOfScope`) and
//! counted; nothing is replayed.

use super::flow::Endpoint;
use super::wire::{HandoffReq, Services};

/// Why a HANDOFF_REQ was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfScope {
    /// The sender has sent no HELLO on this module's watch.
    NoHello,
    /// The sender's HELLO does not name the request's VIP:port.
    NotFronted,
    /// The client address cannot be a remote client's.
    BadClient,
}

/// Whether a back-end acts on `req` from a peer whose last HELLO named
/// `fronted` (`None`: no HELLO yet); `is_node` says whether an address is
/// a node of the cluster (this one or a peer).
pub fn check(
    req: &HandoffReq<'_>,
    fronted: Option<&Services>,
    is_node: impl Fn(u32) -> bool,
) -> Result<(), OutOfScope> {
    let fronted = fronted.ok_or(OutOfScope::NoHello)?;
    if !fronted.contains(Endpoint::new(req.vip_addr, req.vip_port)) {
        return Err(OutOfScope::NotFronted);
    }
    if !remote_client(req.client_addr)
        || req.client_addr == req.vip_addr
        || is_node(req.client_addr)
    {
        return Err(OutOfScope::BadClient);
    }
    Ok(())
}

/// Whether `addr` (host order) can be a client's source address on the
/// Internet side: not 0.0.0.0/8, 127.0.0.0/8, or 224.0.0.0/3 (multicast,
/// reserved and the broadcast address).
pub fn remote_client(addr: u32) -> bool {
    let first = addr >> 24;
    first != 0 && first != 127 && first < 224
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::wire::SynOptions;

    const VIP: u32 = 0x0a63_0064; // 10.99.0.100
    const FE: u32 = 0x0a63_0001;
    const OPTS: SynOptions = SynOptions {
        mss: 1460,
        wscale: Some(7),
        sack_permitted: true,
        timestamps: true,
    };

    fn req(client: u32, vip: u32, port: u16) -> HandoffReq<'static> {
        HandoffReq {
            fe_flow_id: 1,
            client_addr: client,
            client_port: 40000,
            vip_addr: vip,
            vip_port: port,
            isn_client: 1,
            client_opts: OPTS,
            client_window: 65535,
            isn_fe: 2,
            fe_opts: OPTS,
            fe_tsval_last: 0,
            client_tsval_last: 0,
            client_window_last: 65535,
            request_seq: 2,
            fin: false,
            request: b"GET / HTTP/1.1\r\n\r\n",
        }
    }

    fn fronts() -> Services {
        Services::of(&[Endpoint::new(VIP, 80), Endpoint::new(VIP, 443)])
    }

    fn node(a: u32) -> bool {
        a == FE
    }

    #[test]
    fn a_request_for_an_announced_service_from_a_client_is_taken() {
        let client = 0xc633_6407; // 198.51.100.7
        assert_eq!(check(&req(client, VIP, 80), Some(&fronts()), node), Ok(()));
        assert_eq!(check(&req(client, VIP, 443), Some(&fronts()), node), Ok(()));
    }

    #[test]
    fn no_hello_no_handoff() {
        let r = req(0xc633_6407, VIP, 80);
        assert_eq!(check(&r, None, node), Err(OutOfScope::NoHello));
        let none = Services::NONE;
        assert_eq!(check(&r, Some(&none), node), Err(OutOfScope::NotFronted));
    }

    /// Another port (ssh) or another VIP than the sender announced.
    #[test]
    fn a_service_the_sender_does_not_front_is_refused() {
        let client = 0xc633_6407;
        for (vip, port) in [(VIP, 22), (VIP, 8080), (VIP + 1, 80), (FE, 80)] {
            assert_eq!(
                check(&req(client, vip, port), Some(&fronts()), node),
                Err(OutOfScope::NotFronted),
                "{vip:x}:{port}"
            );
        }
    }

    #[test]
    fn a_client_that_cannot_be_remote_is_refused() {
        for client in [
            0,
            0x00ff_ffff,
            0x7f00_0001,
            0xe000_0001,
            0xefff_fffa,
            0xf000_0001,
            0xffff_ffff,
            VIP,
            FE,
        ] {
            assert_eq!(
                check(&req(client, VIP, 80), Some(&fronts()), node),
                Err(OutOfScope::BadClient),
                "{client:x}"
            );
        }
        // Private and link-local addresses are clients like any other.
        for client in [0x0a00_0001, 0xc0a8_0101, 0xa9fe_0001, 0xdfff_fffe] {
            assert!(remote_client(client), "{client:x}");
        }
    }
}
