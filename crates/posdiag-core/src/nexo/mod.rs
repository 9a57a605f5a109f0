//! nexo Sale-to-POI (the Adyen Terminal API) for terminal diagnosis, sans-I/O: the JSON
//! envelope ([`SaleToPOIRequest`], [`SaleToPOIResponse`]) with its [`MessageHeader`], the
//! Diagnosis messages ([`DiagnosisRequest`], [`DiagnosisResponse`] with [`POIStatus`] and
//! [`HostStatus`]), the vendor health data in AdditionalResponse ([`AdditionalResponse`]),
//! and an HTTP/1.1 helper for the local transport ([`http`]).
//!
//! ```
//! use posdiag_core::nexo::{DiagnosisRequest, MessageHeader, SaleToPOIRequest};
//!
//! let header = MessageHeader::diagnosis_request("POSSystemID12345", "0403104626", "V400m-346403161");
//! let request = SaleToPOIRequest::diagnosis(header, DiagnosisRequest { host_diagnosis: true, ..Default::default() });
//! let wire = posdiag_core::nexo::http::post_request("192.0.2.10:8443", "/nexo", &[], &request.encode());
//! assert!(wire.starts_with(b"POST /nexo HTTP/1.1\r\n"));
//! assert_eq!(SaleToPOIRequest::parse(&request.encode())?, request);
//! # Ok::<(), posdiag_core::nexo::NexoError>(())
//! ```

mod additional;
mod base64;
mod error;
pub mod http;
mod message;

pub use additional::{AdditionalResponse, NetworkInterface, NetworkProfile, encode_base64};
pub use error::NexoError;
pub use message::{
    DiagnosisRequest, DiagnosisResponse, ErrorCondition, GlobalStatus, HostStatus, MessageCategory,
    MessageClass, MessageHeader, MessageType, POIStatus, PrinterStatus, RequestBody, Response,
    ResponseBody, ResultCode, SaleToPOIRequest, SaleToPOIResponse,
};
