//! btcp's wrapper layer over the kernel: every `unsafe` block of the module
//! lives below this module, each with its `// SAFETY:` argument. The module's
//! own logic (btcp/) and the pure core (rust/btcp-core) use only these safe
//! types.

pub mod bindings;
pub mod genl;
pub mod heap;
pub mod hmac;
pub mod net;
pub mod netfilter;
pub mod params;
pub mod seq_file;
pub mod skb;
pub mod socket;
pub mod sync_bh;
