//! The posdiag vendor plugin contract, for both sides of the C ABI "posdiag-c-v1":
//!
//! - [`pb`]: the `posdiag.plugin.v1` protobuf messages that carry everything with meaning
//!   across the boundary (generated from `proto/posdiag/plugin/v1/plugin.proto`), and
//!   [`FILE_DESCRIPTOR_SET`] for reflection and proto3 JSON;
//! - [`abi`]: `#[repr(C)]` mirrors of `include/posdiag_plugin.h` (the contract itself; a test
//!   compiles the header with the system C compiler and compares sizes and offsets), its
//!   constants and function pointer types, for the plugin host;
//! - [`sdk`]: the safe Rust SDK for vendors: implement [`sdk::Plugin`] and call
//!   [`export_plugin!`]; no `unsafe` on the vendor's side.
//!
//! This crate depends on no other posdiag crate, so a vendor can build against it alone.

pub mod abi;
pub mod sdk;

/// The `posdiag.plugin.v1` messages (see `proto/posdiag/plugin/v1/plugin.proto`).
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/posdiag.plugin.v1.rs"));
}

/// The encoded `google.protobuf.FileDescriptorSet` of `posdiag/plugin/v1/plugin.proto`, for
/// reflection (e.g. `prost-reflect`) and proto3 JSON renderings of plugin messages.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/posdiag_plugin_descriptor.bin"));

/// The C header `posdiag_plugin.h`, verbatim: the contract that [`abi`] mirrors. Tools that
/// help vendors (e.g. a bundle template generator) can write it out without a source checkout.
pub const C_HEADER: &str = include_str!("../include/posdiag_plugin.h");

/// Re-exported so that vendors encode and decode with the same prost as the SDK.
pub use prost;
