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

use btcp_core::build::write_ipv4_tcp;
use btcp_core::{Flags, Ipv4Header, TcpHeader, TcpOptions};
use counters::Counters;
use kernel_ext::netfilter::HookPoint;
use kernel_ext::skb::OwnedSkBuff;

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
