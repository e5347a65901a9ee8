//! Errors shared by the parsers and writers.
//!
//! They are plain `Copy` enums so the kernel shell can count them per
//! hook without allocating or formatting anything.

use ::core::fmt;

/// Why a header could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseError {
    /// The buffer ends before the header (including its options) does.
    Truncated,
    /// The IP version field is not 4.
    BadVersion,
    /// The IPv4 IHL is below 5 words (a header shorter than 20 bytes).
    BadHeaderLength,
    /// The IPv4 total length is smaller than the header length, or too
    /// small to hold the transport header it claims to carry.
    BadTotalLength,
    /// The TCP data offset is below 5 words (a header shorter than 20 bytes).
    BadDataOffset,
}

impl ParseError {
    /// A short static name, for counters and log lines.
    pub const fn as_str(self) -> &'static str {
        match self {
            ParseError::Truncated => "truncated",
            ParseError::BadVersion => "bad IP version",
            ParseError::BadHeaderLength => "bad IPv4 header length",
            ParseError::BadTotalLength => "bad IPv4 total length",
            ParseError::BadDataOffset => "bad TCP data offset",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a header could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuildError {
    /// The output buffer is too small for what was asked.
    BufferTooSmall,
    /// The TCP options do not fit in the 40 bytes a header can carry.
    OptionsTooLong,
    /// The packet would exceed the 65535 bytes an IPv4 total length can say.
    PacketTooLong,
}

impl BuildError {
    /// A short static name, for counters and log lines.
    pub const fn as_str(self) -> &'static str {
        match self {
            BuildError::BufferTooSmall => "buffer too small",
            BuildError::OptionsTooLong => "TCP options too long",
            BuildError::PacketTooLong => "packet too long",
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn displays_a_name() {
        assert_eq!(ParseError::Truncated.to_string(), "truncated");
        assert_eq!(
            BuildError::OptionsTooLong.to_string(),
            "TCP options too long"
        );
    }
}
