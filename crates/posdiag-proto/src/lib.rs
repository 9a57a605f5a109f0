//! Generated code for posdiag's gRPC API. This crate holds no logic: the
//! `.proto` files in `proto/` are the source of truth and their comments are
//! the API documentation.

#![forbid(unsafe_code)]
#![allow(missing_docs, missing_debug_implementations, clippy::all)]

/// `posdiag.v1`: terminals, checks and findings.
pub mod v1 {
    tonic::include_proto!("posdiag.v1");
}

/// The encoded `FileDescriptorSet` of every posdiag `.proto` file (with the
/// well-known types they import), for server reflection and JSON rendering.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/posdiag_descriptor.bin"));
