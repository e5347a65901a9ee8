// SPDX-License-Identifier: GPL-2.0
//! KUnit cases for btcp's kernel shell, run by btcp/btcp_kunit_suite.c in
//! the guest: the wrappers and the module's hook-side logic on real kernel
//! objects (sk_buffs built with `alloc_skb`), with the core compiled under
//! the kernel's flags. Each case returns 0, or the line of the first failed
//! check.

use core::ffi::c_int;

#[path = "../rust/kernel_ext.rs"]
pub mod kernel_ext;

#[allow(unused_attributes)] // the core's crate-level `#![no_std]` is moot here
#[path = "../rust/btcp-core/src/lib.rs"]
pub mod btcp_core;

mod counters;
// The module's flow table and filter, of which the cases use a part.
#[allow(dead_code)]
mod filter;
mod kunit_sock;
mod kunit_table;
#[allow(dead_code)]
mod table;

use btcp_core::build::write_ipv4_tcp;
use btcp_core::{Flags, Ipv4Header, TcpHeader, TcpOptions};
use counters::Counters;
use kernel_ext::netfilter::HookPoint;
use kernel_ext::skb::{FieldEdit, OwnedSkBuff};

/// Fails the case at the current line unless `$cond` holds.
macro_rules! check {
    ($cond:expr) => {
        if !$cond {
            return line!() as c_int;
        }
    };
}

const CLIENT: u32 = 0x0a63_000a; // 10.99.0.10
const VIP: u32 = 0x0a63_0064; // 10.99.0.100

/// A client's SYN as Linux sends it (MSS, SACK-permitted, timestamps,
/// window scale), into `buf`; returns its length.
fn client_syn(buf: &mut [u8], payload: &[u8], flags: Flags) -> Option<usize> {
    let ip = Ipv4Header {
        ihl: 5,
        ttl: 64,
        frag: 0x4000,
        src: CLIENT,
        dst: VIP,
        ..Default::default()
    };
    let tcp = TcpHeader {
        src_port: 40000,
        dst_port: 80,
        seq: 0xffff_fff0,
        flags,
        window: 64240,
        ..Default::default()
    };
    let opts = TcpOptions {
        mss: Some(1460),
        wscale: Some(7),
        sack_permitted: true,
        timestamps: Some((0x0a1b_2c3d, 0)),
        ..Default::default()
    };
    write_ipv4_tcp(buf, &ip, &tcp, &opts, payload).ok()
}

/// `SkBuff::read` returns the bytes of a linear buffer in place.
#[no_mangle]
pub extern "C" fn btcp_kunit_skb_read_linear() -> c_int {
    let mut pkt = [0u8; 128];
    let Some(len) = client_syn(&mut pkt, &[], Flags::SYN) else {
        return line!() as c_int;
    };
    let Some(bytes) = pkt.get(..len) else {
        return line!() as c_int;
    };
    let Some(skb) = OwnedSkBuff::from_bytes(bytes) else {
        return line!() as c_int;
    };
    check!(skb.len() as usize == len);
    let mut buf = [0u8; 20];
    check!(skb.read(0, &mut buf) == bytes.get(..20));
    let mut buf = [0u8; 4];
    check!(skb.read(12, &mut buf) == Some(&CLIENT.to_be_bytes()[..]));
    0
}

/// Reads past the end of the packet, or with absurd offsets, give `None`
/// and never touch memory outside the buffer.
#[no_mangle]
pub extern "C" fn btcp_kunit_skb_read_bounds() -> c_int {
    let Some(skb) = OwnedSkBuff::from_bytes(&[1, 2, 3, 4, 5, 6, 7, 8]) else {
        return line!() as c_int;
    };
    let mut buf = [0u8; 8];
    check!(skb.read(0, &mut buf) == Some(&[1, 2, 3, 4, 5, 6, 7, 8][..]));
    let mut buf = [0u8; 9];
    check!(skb.read(0, &mut buf).is_none());
    let mut buf = [0u8; 1];
    check!(skb.read(8, &mut buf).is_none());
    check!(skb.read(7, &mut buf) == Some(&[8][..]));
    check!(skb.read(u32::MAX, &mut buf).is_none());
    let mut empty = [0u8; 0];
    check!(skb.read(8, &mut empty) == Some(&[][..]));
    0
}

/// A SYN and a data segment, as sk_buffs, land in the right per-hook
/// counters with their lengths.
#[no_mangle]
pub extern "C" fn btcp_kunit_counters_classify_skb() -> c_int {
    let counters = Counters::new();
    let mut pkt = [0u8; 256];
    let Some(len) = client_syn(&mut pkt, &[], Flags::SYN) else {
        return line!() as c_int;
    };
    let Some(syn) = pkt.get(..len).and_then(OwnedSkBuff::from_bytes) else {
        return line!() as c_int;
    };
    counters.account(HookPoint::PreRouting, &syn);
    let body = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let Some(len) = client_syn(&mut pkt, body, Flags::ACK | Flags::PSH) else {
        return line!() as c_int;
    };
    let Some(data) = pkt.get(..len).and_then(OwnedSkBuff::from_bytes) else {
        return line!() as c_int;
    };
    counters.account(HookPoint::LocalIn, &data);
    counters.account(HookPoint::LocalIn, &data);

    let snap = counters.snapshot(HookPoint::PreRouting);
    check!(snap.packets == 1 && snap.bytes == 60 && snap.payload == 0);
    check!(snap.kind(btcp_core::SegmentKind::Syn) == 1);
    let snap = counters.snapshot(HookPoint::LocalIn);
    check!(snap.packets == 2 && snap.bytes == 2 * len as u64);
    check!(snap.payload == 2 * body.len() as u64);
    check!(snap.kind(btcp_core::SegmentKind::Data) == 2);
    let snap = counters.snapshot(HookPoint::LocalOut);
    check!(snap.packets == 0 && snap.malformed == 0);
    0
}

/// Non-TCP packets are not counted; broken ones are counted as malformed.
#[no_mangle]
pub extern "C" fn btcp_kunit_counters_ignore_non_tcp() -> c_int {
    let counters = Counters::new();
    let mut pkt = [0u8; 128];
    let Some(len) = client_syn(&mut pkt, &[], Flags::SYN) else {
        return line!() as c_int;
    };
    // Turn it into UDP (protocol 17): classified, but not TCP.
    if let Some(p) = pkt.get_mut(9) {
        *p = 17;
    }
    let Some(udp) = pkt.get(..len).and_then(OwnedSkBuff::from_bytes) else {
        return line!() as c_int;
    };
    counters.account(HookPoint::PreRouting, &udp);
    // Three bytes of nothing, and an IPv4 header claiming IHL 4.
    let Some(tiny) = OwnedSkBuff::from_bytes(&[0x45, 0, 0]) else {
        return line!() as c_int;
    };
    counters.account(HookPoint::PreRouting, &tiny);
    let mut bad = [0u8; 40];
    bad[0] = 0x44;
    let Some(bad) = OwnedSkBuff::from_bytes(&bad) else {
        return line!() as c_int;
    };
    counters.account(HookPoint::PreRouting, &bad);
    let snap = counters.snapshot(HookPoint::PreRouting);
    check!(snap.packets == 0);
    check!(snap.malformed == 2);
    0
}

/// The proc table has a header and one line per hook with the counts.
#[no_mangle]
pub extern "C" fn btcp_kunit_counters_render() -> c_int {
    let counters = Counters::new();
    let mut pkt = [0u8; 128];
    let Some(len) = client_syn(&mut pkt, &[], Flags::SYN) else {
        return line!() as c_int;
    };
    let Some(syn) = pkt.get(..len).and_then(OwnedSkBuff::from_bytes) else {
        return line!() as c_int;
    };
    counters.account(HookPoint::PostRouting, &syn);
    let mut out = TextBuf::default();
    check!(counters.render(&mut out).is_ok());
    let text = out.as_str();
    check!(text.starts_with("hook "));
    check!(text.lines().count() == 5);
    let Some(post) = text.lines().find(|l| l.starts_with("postrouting ")) else {
        return line!() as c_int;
    };
    let mut cols = post.split_whitespace();
    check!(cols.nth(1) == Some("1")); // packets
    check!(cols.next() == Some("60")); // bytes
    0
}

/// A pure ACK whose timestamp option sits at an odd offset (one NOP before
/// it, EOL after), with valid checksums computed by the core.
fn odd_ts_ack() -> Option<[u8; 52]> {
    let mut p = [0u8; 52];
    let hdr: [u8; 20] = [
        0x45, 0, 0, 52, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 99, 0, 10, 10, 99, 0, 100,
    ];
    p.get_mut(..20)?.copy_from_slice(&hdr);
    let tcp: [u8; 32] = [
        0x9c, 0x40, 0, 80, // ports 40000 -> 80
        0x11, 0x22, 0x33, 0x44, // seq
        0xff, 0xff, 0xff, 0xf0, // ack
        0x80, 0x10, 0x01, 0xf5, // data offset 8, ACK, window 501
        0, 0, 0, 0, // checksum, urgent
        0x01, 0x08, 0x0a, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04,
        0x00, // NOP, TS, EOL
    ];
    p.get_mut(20..)?.copy_from_slice(&tcp);
    let ip_csum = btcp_core::csum::ipv4_header_checksum(p.get(..20)?)?;
    p.get_mut(10..12)?.copy_from_slice(&ip_csum.to_be_bytes());
    let tcp_csum = btcp_core::csum::tcp_ipv4_checksum(CLIENT, VIP, p.get(20..)?)?;
    p.get_mut(36..38)?.copy_from_slice(&tcp_csum.to_be_bytes());
    Some(p)
}

/// The kernel's checksum helpers, driven by `SkBuff::rewrite`, leave both
/// checksums valid by the core's full recomputation: an address, the ack
/// (wrapping), the window, and a timestamp at an odd offset.
#[no_mangle]
pub extern "C" fn btcp_kunit_rewrite_checksums() -> c_int {
    let Some(pkt) = odd_ts_ack() else {
        return line!() as c_int;
    };
    check!(btcp_core::csum::verify_tcp_ipv4(
        CLIENT,
        VIP,
        pkt.get(20..).unwrap_or(&[])
    ));
    let Some(skb) = OwnedSkBuff::from_bytes(&pkt) else {
        return line!() as c_int;
    };
    let be1 = 0x0a63_000b;
    let edits = [
        FieldEdit {
            offset: 16,
            width: 4,
            is_addr: true,
            old: VIP,
            new: be1,
        },
        FieldEdit {
            offset: 28,
            width: 4,
            is_addr: false,
            old: 0xffff_fff0,
            new: 0x0000_0010,
        },
        FieldEdit {
            offset: 34,
            width: 2,
            is_addr: false,
            old: 501,
            new: 0xfffe,
        },
        FieldEdit {
            offset: 43,
            width: 4,
            is_addr: false,
            old: 0xdead_beef,
            new: 0x0102_0305,
        },
    ];
    check!(skb.rewrite(&edits).is_ok());
    let mut buf = [0u8; 52];
    let Some(out) = skb.read(0, &mut buf) else {
        return line!() as c_int;
    };
    check!(btcp_core::csum::verify_ipv4_header(
        out.get(..20).unwrap_or(&[])
    ));
    check!(btcp_core::csum::verify_tcp_ipv4(
        CLIENT,
        be1,
        out.get(20..).unwrap_or(&[])
    ));
    check!(out.get(16..20) == Some(&be1.to_be_bytes()[..]));
    check!(out.get(43..47) == Some(&[1, 2, 3, 5][..]));
    // A field that no longer holds the expected value is refused.
    check!(skb.rewrite(&edits[..1]).is_err());
    // So is a malformed edit.
    check!(skb
        .rewrite(&[FieldEdit {
            offset: 30,
            width: 3,
            is_addr: false,
            old: 0,
            new: 0
        }])
        .is_err());
    0
}

/// A fixed-size text buffer for rendering in tests.
struct TextBuf {
    buf: [u8; 1024],
    len: usize,
}

impl Default for TextBuf {
    fn default() -> Self {
        TextBuf {
            buf: [0; 1024],
            len: 0,
        }
    }
}

impl TextBuf {
    fn as_str(&self) -> &str {
        self.buf
            .get(..self.len)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

impl core::fmt::Write for TextBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(core::fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(core::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
