//! The server name a TLS client asks for (SNI), read from its ClientHello
//! the way a front-end reads an HTTP request head: from the bytes the
//! client sent first, which may come in several segments, within a bound.
//!
//! What is read (RFC 8446 §5.1 and §4.1.2, RFC 6066 §3): one TLS record
//! of type handshake (22) holding one whole ClientHello (a hello split
//! over several records is refused: no client in use does that, and the
//! bound stays one record); the hello's fixed fields are checked for
//! their lengths only; its extensions are walked, each type at most once,
//! and the `server_name` extension's list must hold at most one
//! `host_name`, an ASCII DNS name (letters, digits, `-`, `.` between
//! labels; no trailing dot, as RFC 6066 says) of at most 255 bytes.
//! Nothing else is interpreted: the back-end's TLS stack does the rest.

/// Most bytes of a TLS record's payload (RFC 8446 §5.1: 2^14).
pub const MAX_RECORD: usize = 1 << 14;
/// Length of a record header: type (1), legacy version (2), length (2).
pub const RECORD_HEADER: usize = 5;
/// Most bytes a ClientHello (its record header included) may take.
pub const MAX_HELLO: usize = RECORD_HEADER + MAX_RECORD;
/// Longest host name (RFC 6066: a DNS name).
pub const MAX_NAME: usize = 255;

const CONTENT_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const NAME_TYPE_HOST: u8 = 0;
/// Most extensions looked at (each type once; real hellos have ~20).
const MAX_EXTENSIONS: usize = 64;

/// Why a ClientHello gave no server name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelloError {
    /// More bytes are needed (and may still come: the record is not over).
    Incomplete,
    /// Not a TLS handshake record (a plain HTTP request, say).
    NotTls,
    /// A TLS record, but not a well-formed ClientHello within one record.
    Malformed,
}

/// A ClientHello's server name, if it asked for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHello<'a> {
    /// The `host_name` of its `server_name` extension.
    pub server_name: Option<&'a [u8]>,
    /// Bytes of the record that held it, from the start of the buffer.
    pub len: usize,
}

/// Reads the ClientHello at the start of `buf`.
///
/// # Errors
///
/// [`HelloError::Incomplete`] while the record is not all there (a
/// malformed start is reported as soon as it is seen),
/// [`HelloError::NotTls`] or [`HelloError::Malformed`].
pub fn parse_client_hello(buf: &[u8]) -> Result<ClientHello<'_>, HelloError> {
    let mut r = Reader(buf);
    // The record header, checked byte by byte as it arrives.
    match r.u8() {
        None => return Err(HelloError::Incomplete),
        Some(CONTENT_HANDSHAKE) => {}
        Some(_) => return Err(HelloError::NotTls),
    }
    match r.u8() {
        None => return Err(HelloError::Incomplete),
        Some(3) => {}
        Some(_) => return Err(HelloError::NotTls),
    }
    r.u8().ok_or(HelloError::Incomplete)?;
    let len = usize::from(r.u16().ok_or(HelloError::Incomplete)?);
    if len == 0 || len > MAX_RECORD {
        return Err(HelloError::Malformed);
    }
    // The handshake header: what is there of it can be checked at once.
    let avail = r.0.get(..len).unwrap_or(r.0);
    let mut h = Reader(avail);
    match h.u8() {
        None => return Err(HelloError::Incomplete),
        Some(HANDSHAKE_CLIENT_HELLO) => {}
        Some(_) => return Err(HelloError::Malformed),
    }
    if let Some(hello_len) = h.u24() {
        // The hello must fill the record exactly: not split over records,
        // nothing after it.
        if usize::try_from(hello_len).ok() != len.checked_sub(4) {
            return Err(HelloError::Malformed);
        }
    }
    let record = r.bytes(len).ok_or(HelloError::Incomplete)?;
    let mut h = Reader(record.get(4..).ok_or(HelloError::Malformed)?);
    let server_name = hello_body(&mut h).ok_or(HelloError::Malformed)?;
    Ok(ClientHello {
        server_name,
        len: RECORD_HEADER.saturating_add(len),
    })
}

/// The ClientHello's body: `None` if malformed, else its server name.
fn hello_body<'a>(h: &mut Reader<'a>) -> Option<Option<&'a [u8]>> {
    h.u16()?; // legacy_version
    h.bytes(32)?; // random
    let session = usize::from(h.u8()?);
    if session > 32 {
        return None;
    }
    h.bytes(session)?;
    let suites = usize::from(h.u16()?);
    if suites == 0 || suites % 2 != 0 {
        return None;
    }
    h.bytes(suites)?;
    let compression = usize::from(h.u8()?);
    if compression == 0 {
        return None;
    }
    h.bytes(compression)?;
    if h.0.is_empty() {
        // No extensions at all (TLS 1.2 allows it): no name.
        return Some(None);
    }
    let ext_len = usize::from(h.u16()?);
    let mut exts = Reader(h.bytes(ext_len)?);
    if !h.0.is_empty() {
        return None;
    }
    let mut seen = [0u16; MAX_EXTENSIONS];
    let mut n = 0usize;
    let mut name = None;
    while !exts.0.is_empty() {
        let ty = exts.u16()?;
        let data = exts.vec16()?;
        if seen.get(..n)?.contains(&ty) {
            return None;
        }
        *seen.get_mut(n)? = ty;
        n = n.saturating_add(1);
        if ty == EXT_SERVER_NAME {
            name = server_name(data)?;
        }
    }
    Some(name)
}

/// The `server_name` extension's data: `None` if malformed, else its
/// `host_name` (an empty extension, as a server sends, names nothing).
fn server_name(data: &[u8]) -> Option<Option<&[u8]>> {
    if data.is_empty() {
        return Some(None);
    }
    let mut d = Reader(data);
    let mut list = Reader(d.vec16()?);
    if !d.0.is_empty() || list.0.is_empty() {
        return None;
    }
    let mut host = None;
    while !list.0.is_empty() {
        let ty = list.u8()?;
        let name = list.vec16()?;
        if ty == NAME_TYPE_HOST {
            if host.is_some() || !is_host_name(name) {
                return None;
            }
            host = Some(name);
        }
    }
    Some(host)
}

/// An ASCII DNS name: labels of letters, digits and `-` (not first or
/// last), 1 to 63 bytes, joined by single dots; no trailing dot.
pub fn is_host_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.split(|&b| b == b'.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
                && label.first() != Some(&b'-')
                && label.last() != Some(&b'-')
        })
}

/// Consumes big-endian fields from the front.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let head = self.0.get(..n)?;
        self.0 = self.0.get(n..)?;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.bytes(1)?.first().copied()
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.bytes(2)?;
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
    }

    /// A field of as many bytes as the u16 before it says.
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.bytes(usize::from(n))
    }

    fn u24(&mut self) -> Option<u32> {
        let b = self.bytes(3)?;
        Some(u32::from_be_bytes([0, *b.first()?, *b.get(1)?, *b.get(2)?]))
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    /// A ClientHello record: `exts` as (type, data); `None`: no extension
    /// block at all.
    fn hello(exts: Option<&[(u16, Vec<u8>)]>) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&[3, 3]);
        body.extend_from_slice(&[7; 32]);
        body.push(32);
        body.extend_from_slice(&[9; 32]);
        body.extend_from_slice(&[0, 4, 0x13, 0x01, 0x13, 0x02]);
        body.extend_from_slice(&[1, 0]);
        if let Some(exts) = exts {
            let mut e = Vec::new();
            for (ty, data) in exts {
                e.extend_from_slice(&ty.to_be_bytes());
                e.extend_from_slice(&(data.len() as u16).to_be_bytes());
                e.extend_from_slice(data);
            }
            body.extend_from_slice(&(e.len() as u16).to_be_bytes());
            body.extend_from_slice(&e);
        }
        let mut hs = vec![1];
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&body);
        let mut rec = vec![22, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    fn sni(names: &[(u8, &[u8])]) -> Vec<u8> {
        let mut list = Vec::new();
        for (ty, n) in names {
            list.push(*ty);
            list.extend_from_slice(&(n.len() as u16).to_be_bytes());
            list.extend_from_slice(n);
        }
        let mut d = (list.len() as u16).to_be_bytes().to_vec();
        d.extend_from_slice(&list);
        d
    }

    #[test]
    fn the_server_name_is_read_once_the_record_is_whole() {
        let rec = hello(Some(&[
            (10, vec![0, 2, 0, 29]),
            (0, sni(&[(0, b"www.example.com")])),
            (43, vec![2, 3, 4]),
        ]));
        let h = parse_client_hello(&rec).unwrap();
        assert_eq!(h.server_name, Some(&b"www.example.com"[..]));
        assert_eq!(h.len, rec.len());
        // Bytes after the record (the client's next one) do not matter.
        let mut more = rec.clone();
        more.extend_from_slice(&[23, 3, 3]);
        assert_eq!(parse_client_hello(&more), Ok(h));
        for n in 0..rec.len() {
            assert_eq!(
                parse_client_hello(&rec[..n]),
                Err(HelloError::Incomplete),
                "{n}"
            );
        }
    }

    #[test]
    fn no_name_and_bad_hellos() {
        let none = |exts: Option<&[(u16, Vec<u8>)]>| {
            parse_client_hello(&hello(exts)).map(|h| h.server_name.map(<[u8]>::to_vec))
        };
        assert_eq!(none(None), Ok(None));
        assert_eq!(none(Some(&[])), Ok(None));
        assert_eq!(none(Some(&[(0, vec![])])), Ok(None));
        // Only other name types: no host name.
        assert_eq!(none(Some(&[(0, sni(&[(7, b"x")]))])), Ok(None));
        let bad = [
            sni(&[(0, b"a.example"), (0, b"b.example")]),
            sni(&[(0, b"example.com.")]),
            sni(&[(0, b"-a.example")]),
            sni(&[(0, b"a..b")]),
            sni(&[(0, b"caf\xc3\xa9.example")]),
            sni(&[(0, b"")]),
            sni(&[]),
            vec![0, 9, 0, 0, 1, b'a'],
        ];
        for d in bad {
            assert_eq!(
                none(Some(&[(0, d.clone())])),
                Err(HelloError::Malformed),
                "{d:?}"
            );
        }
        let twice = [(0, sni(&[(0, b"a")])), (0, sni(&[(0, b"a")]))];
        assert_eq!(none(Some(&twice)), Err(HelloError::Malformed));
        let long = std::vec![b'a'; 256];
        assert!(!is_host_name(&long) && is_host_name(&long[..63]));
        assert!(!is_host_name(&long[..64]));
    }

    #[test]
    fn what_is_not_a_hello_is_said_early() {
        assert_eq!(parse_client_hello(b""), Err(HelloError::Incomplete));
        assert_eq!(
            parse_client_hello(b"GET / HTTP/1.1\r\n"),
            Err(HelloError::NotTls)
        );
        assert_eq!(parse_client_hello(&[22, 2]), Err(HelloError::NotTls));
        assert_eq!(
            parse_client_hello(&[22, 3, 1, 0, 0]),
            Err(HelloError::Malformed)
        );
        assert_eq!(
            parse_client_hello(&[22, 3, 1, 0x40, 1]),
            Err(HelloError::Malformed)
        );
        // A handshake that is not a ClientHello, or one longer than its
        // record (split over records): refused with the header alone.
        assert_eq!(
            parse_client_hello(&[22, 3, 1, 0, 50, 2]),
            Err(HelloError::Malformed)
        );
        assert_eq!(
            parse_client_hello(&[22, 3, 1, 0, 50, 1, 0, 0, 47]),
            Err(HelloError::Malformed)
        );
        assert_eq!(
            parse_client_hello(&[22, 3, 1, 0, 50, 1, 0, 0, 46]),
            Err(HelloError::Incomplete)
        );
        // Trailing bytes inside the record.
        let mut rec = hello(None);
        rec.push(0);
        rec[4] += 1;
        rec[8] += 1;
        assert_eq!(parse_client_hello(&rec), Err(HelloError::Malformed));
    }
}
