//! The Sale-to-POI envelope (`SaleToPOIRequest` / `SaleToPOIResponse` with a `MessageHeader`)
//! and the Diagnosis messages, read from and written to JSON through `serde_json::Value`
//! (domain types derive no serde).
//!
//! Enumerations keep values they do not know as text (`Other`), because terminals and newer
//! protocol versions add values; required fields that are missing are errors naming the
//! field's path.

use std::fmt;

use serde_json::{Map, Value};

use super::NexoError;
use super::additional::AdditionalResponse;

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A value this version does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// Every known value, in protocol spelling.
            pub const KNOWN: &'static [&'static str] = &[$($text),*];

            /// The protocol spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Other(text) => text,
                }
            }

            /// Reads a value; unknown ones become `Other`.
            pub fn parse(text: &str) -> Self {
                match text {
                    $($text => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                Self::parse(text)
            }
        }
    };
}

text_enum! {
    /// `MessageHeader.MessageClass`.
    MessageClass {
        /// A service request (payment, diagnosis, ...).
        Service = "Service",
        /// A device request (display, print, input).
        Device = "Device",
        /// An event notification.
        Event = "Event",
    }
}

text_enum! {
    /// `MessageHeader.MessageCategory`: which request this is.
    MessageCategory {
        /// Health check.
        Diagnosis = "Diagnosis",
        /// Payment.
        Payment = "Payment",
        /// Login.
        Login = "Login",
        /// Logout.
        Logout = "Logout",
        /// Abort a running request.
        Abort = "Abort",
        /// Reversal.
        Reversal = "Reversal",
        /// Status of an earlier transaction.
        TransactionStatus = "TransactionStatus",
        /// Reconciliation.
        Reconciliation = "Reconciliation",
        /// Event notification.
        Event = "Event",
    }
}

text_enum! {
    /// `MessageHeader.MessageType`.
    MessageType {
        /// Sale system to terminal.
        Request = "Request",
        /// Terminal to sale system.
        Response = "Response",
        /// Unsolicited.
        Notification = "Notification",
    }
}

text_enum! {
    /// `Response.Result`.
    ResultCode {
        /// Done.
        Success = "Success",
        /// Not done; see ErrorCondition.
        Failure = "Failure",
        /// Partly done.
        Partial = "Partial",
    }
}

text_enum! {
    /// `Response.ErrorCondition` (nexo ErrorConditionType).
    ErrorCondition {
        /// Aborted by the sale system or the customer.
        Aborted = "Aborted",
        /// The terminal is busy with another request.
        Busy = "Busy",
        /// Cancelled by the customer.
        Cancel = "Cancel",
        /// Device out of order.
        DeviceOut = "DeviceOut",
        /// A card is already inserted.
        InsertedCard = "InsertedCard",
        /// The transaction is still in progress.
        InProgress = "InProgress",
        /// Not logged in.
        LoggedOut = "LoggedOut",
        /// The message is malformed.
        MessageFormat = "MessageFormat",
        /// The request is not allowed.
        NotAllowed = "NotAllowed",
        /// Not found.
        NotFound = "NotFound",
        /// Restricted payment.
        PaymentRestriction = "PaymentRestriction",
        /// Refused by the host or card.
        Refusal = "Refusal",
        /// A device needed is unavailable.
        UnavailableDevice = "UnavailableDevice",
        /// The service is unavailable.
        UnavailableService = "UnavailableService",
        /// Card not configured in the system.
        InvalidCard = "InvalidCard",
        /// The acquirer host cannot be reached.
        UnreachableHost = "UnreachableHost",
        /// Wrong PIN.
        WrongPIN = "WrongPIN",
    }
}

text_enum! {
    /// `POIStatus.GlobalStatus`.
    GlobalStatus {
        /// Working.
        Ok = "OK",
        /// Busy with another request.
        Busy = "Busy",
        /// In maintenance (updating, downloading).
        Maintenance = "Maintenance",
        /// The terminal cannot be reached (set by a host or proxy answering for it).
        Unreachable = "Unreachable",
    }
}

text_enum! {
    /// `POIStatus.PrinterStatus`.
    PrinterStatus {
        /// Working.
        Ok = "OK",
        /// Paper running out.
        PaperLow = "PaperLow",
        /// No paper.
        NoPaper = "NoPaper",
        /// Paper jammed.
        PaperJam = "PaperJam",
        /// Printer out of order.
        OutOfOrder = "OutOfOrder",
    }
}

/// The header every Sale-to-POI message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageHeader {
    /// `ProtocolVersion`, "3.0" (nexo requires it only in Login; Adyen always sends it).
    pub protocol_version: Option<String>,
    /// `MessageClass`.
    pub message_class: MessageClass,
    /// `MessageCategory`.
    pub message_category: MessageCategory,
    /// `MessageType`.
    pub message_type: MessageType,
    /// `ServiceID`: the request's id, unique per SaleID.
    pub service_id: String,
    /// `SaleID`: the sale system's id.
    pub sale_id: String,
    /// `POIID`: the terminal's id.
    pub poi_id: String,
    /// `DeviceID`, for device requests.
    pub device_id: Option<String>,
}

impl MessageHeader {
    /// The header of a Diagnosis request (protocol 3.0, class Service).
    pub fn diagnosis_request(
        sale_id: impl Into<String>,
        service_id: impl Into<String>,
        poi_id: impl Into<String>,
    ) -> Self {
        Self {
            protocol_version: Some("3.0".to_owned()),
            message_class: MessageClass::Service,
            message_category: MessageCategory::Diagnosis,
            message_type: MessageType::Request,
            service_id: service_id.into(),
            sale_id: sale_id.into(),
            poi_id: poi_id.into(),
            device_id: None,
        }
    }

    /// The header a terminal echoes in its response: the same, with MessageType Response.
    pub fn to_response(&self) -> Self {
        Self {
            message_type: MessageType::Response,
            ..self.clone()
        }
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(v) = &self.protocol_version {
            m.insert("ProtocolVersion".into(), v.as_str().into());
        }
        m.insert("MessageClass".into(), self.message_class.as_str().into());
        m.insert(
            "MessageCategory".into(),
            self.message_category.as_str().into(),
        );
        m.insert("MessageType".into(), self.message_type.as_str().into());
        m.insert("ServiceID".into(), self.service_id.as_str().into());
        m.insert("SaleID".into(), self.sale_id.as_str().into());
        m.insert("POIID".into(), self.poi_id.as_str().into());
        if let Some(v) = &self.device_id {
            m.insert("DeviceID".into(), v.as_str().into());
        }
        Value::Object(m)
    }

    fn from_json(o: &Obj<'_>) -> Result<Self, NexoError> {
        Ok(Self {
            protocol_version: o.opt_str("ProtocolVersion")?,
            message_class: MessageClass::parse(&o.str("MessageClass")?),
            message_category: MessageCategory::parse(&o.str("MessageCategory")?),
            message_type: MessageType::parse(&o.str("MessageType")?),
            service_id: o.str("ServiceID")?,
            sale_id: o.str("SaleID")?,
            poi_id: o.str("POIID")?,
            device_id: o.opt_str("DeviceID")?,
        })
    }
}

/// `DiagnosisRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiagnosisRequest {
    /// `POIID`: the terminal to diagnose (for a sale system behind several).
    pub poi_id: Option<String>,
    /// `HostDiagnosisFlag`: ask the terminal to check its acquirer hosts too.
    pub host_diagnosis: bool,
    /// `AcquirerID`: limits the host diagnosis to these acquirers.
    pub acquirer_ids: Vec<String>,
}

/// `Response`: the outcome part of every response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// `Result`.
    pub result: ResultCode,
    /// `ErrorCondition`, on failure.
    pub error_condition: Option<ErrorCondition>,
    /// `AdditionalResponse`, raw (see [`Response::additional`]).
    pub additional_response: Option<String>,
}

impl Response {
    /// A success without details.
    pub fn success() -> Self {
        Self {
            result: ResultCode::Success,
            error_condition: None,
            additional_response: None,
        }
    }

    /// A failure with a condition and an optional `message` in AdditionalResponse.
    pub fn failure(condition: ErrorCondition, message: Option<&str>) -> Self {
        Self {
            result: ResultCode::Failure,
            error_condition: Some(condition),
            additional_response: message
                .map(|m| AdditionalResponse::from_pairs([("message", m)]).encode()),
        }
    }

    /// The decoded AdditionalResponse pairs (empty if absent).
    pub fn additional(&self) -> AdditionalResponse {
        self.additional_response
            .as_deref()
            .map(AdditionalResponse::parse)
            .unwrap_or_default()
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("Result".into(), self.result.as_str().into());
        if let Some(c) = &self.error_condition {
            m.insert("ErrorCondition".into(), c.as_str().into());
        }
        if let Some(a) = &self.additional_response {
            m.insert("AdditionalResponse".into(), a.as_str().into());
        }
        Value::Object(m)
    }

    fn from_json(o: &Obj<'_>) -> Result<Self, NexoError> {
        Ok(Self {
            result: ResultCode::parse(&o.str("Result")?),
            error_condition: o
                .opt_str("ErrorCondition")?
                .map(|c| ErrorCondition::parse(&c)),
            additional_response: o.opt_str("AdditionalResponse")?,
        })
    }
}

/// `POIStatus`. Each flag is `None` when absent, which nexo uses for "no such component".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct POIStatus {
    /// `GlobalStatus`.
    pub global_status: GlobalStatus,
    /// `SecurityOKFlag`.
    pub security_ok: Option<bool>,
    /// `PEDOKFlag` (PIN entry device).
    pub ped_ok: Option<bool>,
    /// `CardReaderOKFlag`.
    pub card_reader_ok: Option<bool>,
    /// `CommunicationOKFlag`.
    pub communication_ok: Option<bool>,
    /// `FraudPreventionFlag`.
    pub fraud_prevention: Option<bool>,
    /// `PrinterStatus`.
    pub printer_status: Option<PrinterStatus>,
}

impl POIStatus {
    /// A status with only GlobalStatus.
    pub fn new(global_status: GlobalStatus) -> Self {
        Self {
            global_status,
            security_ok: None,
            ped_ok: None,
            card_reader_ok: None,
            communication_ok: None,
            fraud_prevention: None,
            printer_status: None,
        }
    }

    const FLAGS: [&'static str; 5] = [
        "SecurityOKFlag",
        "PEDOKFlag",
        "CardReaderOKFlag",
        "CommunicationOKFlag",
        "FraudPreventionFlag",
    ];

    fn flags(&self) -> [Option<bool>; 5] {
        [
            self.security_ok,
            self.ped_ok,
            self.card_reader_ok,
            self.communication_ok,
            self.fraud_prevention,
        ]
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("GlobalStatus".into(), self.global_status.as_str().into());
        for (name, flag) in Self::FLAGS.iter().zip(self.flags()) {
            if let Some(flag) = flag {
                m.insert((*name).into(), flag.into());
            }
        }
        if let Some(p) = &self.printer_status {
            m.insert("PrinterStatus".into(), p.as_str().into());
        }
        Value::Object(m)
    }

    fn from_json(o: &Obj<'_>) -> Result<Self, NexoError> {
        let mut flags = [None; 5];
        for (slot, name) in flags.iter_mut().zip(Self::FLAGS) {
            *slot = o.opt_bool(name)?;
        }
        let [
            security_ok,
            ped_ok,
            card_reader_ok,
            communication_ok,
            fraud_prevention,
        ] = flags;
        Ok(Self {
            global_status: GlobalStatus::parse(&o.str("GlobalStatus")?),
            security_ok,
            ped_ok,
            card_reader_ok,
            communication_ok,
            fraud_prevention,
            printer_status: o
                .opt_str("PrinterStatus")?
                .map(|p| PrinterStatus::parse(&p)),
        })
    }
}

/// `HostStatus`: one acquirer host as the terminal sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostStatus {
    /// `AcquirerID`.
    pub acquirer_id: String,
    /// `IsReachableFlag` (true when absent).
    pub is_reachable: bool,
}

/// `DiagnosisResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagnosisResponse {
    /// `Response` (required).
    pub response: Response,
    /// `LoggedSaleID`.
    pub logged_sale_ids: Vec<String>,
    /// `POIStatus`.
    pub poi_status: Option<POIStatus>,
    /// `HostStatus`.
    pub host_status: Vec<HostStatus>,
}

/// The body of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestBody {
    /// `DiagnosisRequest`.
    Diagnosis(DiagnosisRequest),
    /// Any other `<X>Request`, kept as JSON.
    Other {
        /// The key, e.g. `PaymentRequest`.
        name: String,
        /// Its value.
        body: Value,
    },
}

impl RequestBody {
    /// The JSON key, e.g. `DiagnosisRequest`.
    pub fn name(&self) -> &str {
        match self {
            RequestBody::Diagnosis(_) => "DiagnosisRequest",
            RequestBody::Other { name, .. } => name,
        }
    }
}

/// The body of a response.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseBody {
    /// `DiagnosisResponse`.
    Diagnosis(DiagnosisResponse),
    /// Any other `<X>Response`, kept as JSON.
    Other {
        /// The key, e.g. `PaymentResponse`.
        name: String,
        /// Its value.
        body: Value,
    },
}

impl ResponseBody {
    /// The JSON key, e.g. `DiagnosisResponse`.
    pub fn name(&self) -> &str {
        match self {
            ResponseBody::Diagnosis(_) => "DiagnosisResponse",
            ResponseBody::Other { name, .. } => name,
        }
    }
}

/// A `SaleToPOIRequest`.
#[derive(Debug, Clone, PartialEq)]
pub struct SaleToPOIRequest {
    /// `MessageHeader`.
    pub header: MessageHeader,
    /// `<X>Request`.
    pub body: RequestBody,
}

/// A `SaleToPOIResponse`.
#[derive(Debug, Clone, PartialEq)]
pub struct SaleToPOIResponse {
    /// `MessageHeader`.
    pub header: MessageHeader,
    /// `<X>Response`.
    pub body: ResponseBody,
}

impl SaleToPOIRequest {
    /// A Diagnosis request with its header.
    pub fn diagnosis(header: MessageHeader, request: DiagnosisRequest) -> Self {
        Self {
            header,
            body: RequestBody::Diagnosis(request),
        }
    }

    /// Reads `{"SaleToPOIRequest": {...}}`.
    pub fn parse(bytes: &[u8]) -> Result<Self, NexoError> {
        let value: Value = serde_json::from_slice(bytes)?;
        Self::from_json(&value)
    }

    /// Reads an already parsed JSON value.
    pub fn from_json(value: &Value) -> Result<Self, NexoError> {
        const ENVELOPE: &str = "SaleToPOIRequest";
        let inner = envelope(value, ENVELOPE, false)?;
        let o = Obj::new(inner, ENVELOPE.to_owned());
        let header = MessageHeader::from_json(&o.obj("MessageHeader")?)?;
        let (name, body) = body_of(&o, ENVELOPE, "Request", "…Request")?;
        let body = if name == "DiagnosisRequest" {
            let b = Obj::new(body, format!("{ENVELOPE}.{name}"));
            RequestBody::Diagnosis(DiagnosisRequest {
                poi_id: b.opt_str("POIID")?,
                host_diagnosis: b.opt_bool("HostDiagnosisFlag")?.unwrap_or(false),
                acquirer_ids: b.str_list("AcquirerID")?,
            })
        } else {
            RequestBody::Other {
                name: name.to_owned(),
                body: Value::Object(body.clone()),
            }
        };
        Ok(Self { header, body })
    }

    /// Only the header of a request whose body may be malformed, so a terminal can still
    /// answer with a MessageFormat error echoing it.
    pub fn header_of(value: &Value) -> Result<MessageHeader, NexoError> {
        const ENVELOPE: &str = "SaleToPOIRequest";
        let inner = envelope(value, ENVELOPE, false)?;
        MessageHeader::from_json(&Obj::new(inner, ENVELOPE.to_owned()).obj("MessageHeader")?)
    }

    /// The JSON value, wrapper included.
    pub fn to_json(&self) -> Value {
        let body = match &self.body {
            RequestBody::Diagnosis(d) => {
                let mut m = Map::new();
                if let Some(p) = &d.poi_id {
                    m.insert("POIID".into(), p.as_str().into());
                }
                m.insert("HostDiagnosisFlag".into(), d.host_diagnosis.into());
                if !d.acquirer_ids.is_empty() {
                    m.insert("AcquirerID".into(), d.acquirer_ids.clone().into());
                }
                Value::Object(m)
            }
            RequestBody::Other { body, .. } => body.clone(),
        };
        wrap("SaleToPOIRequest", &self.header, self.body.name(), body)
    }

    /// The JSON bytes.
    pub fn encode(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }
}

impl SaleToPOIResponse {
    /// Reads `{"SaleToPOIResponse": {...}}`, or the same object without the wrapper (as in
    /// Adyen's library fixtures).
    pub fn parse(bytes: &[u8]) -> Result<Self, NexoError> {
        let value: Value = serde_json::from_slice(bytes)?;
        Self::from_json(&value)
    }

    /// Reads an already parsed JSON value.
    pub fn from_json(value: &Value) -> Result<Self, NexoError> {
        const ENVELOPE: &str = "SaleToPOIResponse";
        let inner = envelope(value, ENVELOPE, true)?;
        let o = Obj::new(inner, ENVELOPE.to_owned());
        let header = MessageHeader::from_json(&o.obj("MessageHeader")?)?;
        let (name, body) = body_of(&o, ENVELOPE, "Response", "…Response")?;
        let body = if name == "DiagnosisResponse" {
            let b = Obj::new(body, format!("{ENVELOPE}.{name}"));
            let host_status = b
                .obj_list("HostStatus")?
                .iter()
                .map(|h| {
                    Ok(HostStatus {
                        acquirer_id: h.str("AcquirerID")?,
                        is_reachable: h.opt_bool("IsReachableFlag")?.unwrap_or(true),
                    })
                })
                .collect::<Result<_, NexoError>>()?;
            ResponseBody::Diagnosis(DiagnosisResponse {
                response: Response::from_json(&b.obj("Response")?)?,
                logged_sale_ids: b.str_list("LoggedSaleID")?,
                poi_status: b
                    .opt_obj("POIStatus")?
                    .map(|p| POIStatus::from_json(&p))
                    .transpose()?,
                host_status,
            })
        } else {
            ResponseBody::Other {
                name: name.to_owned(),
                body: Value::Object(body.clone()),
            }
        };
        Ok(Self { header, body })
    }

    /// A failure response to a request: `<X>Response` for `<X>Request`, with the request's
    /// header echoed as a response.
    pub fn failure(
        request_header: &MessageHeader,
        request_name: &str,
        condition: ErrorCondition,
        message: Option<&str>,
    ) -> Self {
        let name = match request_name.strip_suffix("Request") {
            Some(stem) if !stem.is_empty() => format!("{stem}Response"),
            _ => format!("{}Response", request_header.message_category),
        };
        let mut body = Map::new();
        body.insert(
            "Response".into(),
            Response::failure(condition, message).to_json(),
        );
        Self {
            header: request_header.to_response(),
            body: ResponseBody::Other {
                name,
                body: Value::Object(body),
            },
        }
    }

    /// The `Response` of any body (`None` if an unknown body has none or it is malformed).
    pub fn response(&self) -> Option<Response> {
        match &self.body {
            ResponseBody::Diagnosis(d) => Some(d.response.clone()),
            ResponseBody::Other {
                name,
                body: Value::Object(body),
            } => {
                let o = Obj::new(body, name.clone());
                Response::from_json(&o.obj("Response").ok()?).ok()
            }
            ResponseBody::Other { .. } => None,
        }
    }

    /// The JSON value, wrapper included.
    pub fn to_json(&self) -> Value {
        let body = match &self.body {
            ResponseBody::Diagnosis(d) => {
                let mut m = Map::new();
                m.insert("Response".into(), d.response.to_json());
                if !d.logged_sale_ids.is_empty() {
                    m.insert("LoggedSaleID".into(), d.logged_sale_ids.clone().into());
                }
                if let Some(p) = &d.poi_status {
                    m.insert("POIStatus".into(), p.to_json());
                }
                if !d.host_status.is_empty() {
                    let list = d
                        .host_status
                        .iter()
                        .map(|h| {
                            let mut m = Map::new();
                            m.insert("AcquirerID".into(), h.acquirer_id.as_str().into());
                            m.insert("IsReachableFlag".into(), h.is_reachable.into());
                            Value::Object(m)
                        })
                        .collect();
                    m.insert("HostStatus".into(), Value::Array(list));
                }
                Value::Object(m)
            }
            ResponseBody::Other { body, .. } => body.clone(),
        };
        wrap("SaleToPOIResponse", &self.header, self.body.name(), body)
    }

    /// The JSON bytes.
    pub fn encode(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }
}

fn wrap(envelope: &str, header: &MessageHeader, name: &str, body: Value) -> Value {
    let mut inner = Map::new();
    inner.insert("MessageHeader".into(), header.to_json());
    inner.insert(name.into(), body);
    let mut outer = Map::new();
    outer.insert(envelope.into(), Value::Object(inner));
    Value::Object(outer)
}

fn describe(value: &Value) -> String {
    match value {
        Value::Object(m) if m.is_empty() => "an empty object".to_owned(),
        Value::Object(m) => {
            let keys: Vec<&str> = m.keys().take(5).map(String::as_str).collect();
            format!("an object with {}", keys.join(", "))
        }
        Value::Array(_) => "an array".to_owned(),
        Value::String(_) => "a string".to_owned(),
        Value::Number(_) => "a number".to_owned(),
        Value::Bool(_) => "a boolean".to_owned(),
        Value::Null => "null".to_owned(),
    }
}

/// The object inside the envelope (or, if `bare_ok`, the object itself when it holds a
/// MessageHeader directly).
fn envelope<'a>(
    value: &'a Value,
    name: &'static str,
    bare_ok: bool,
) -> Result<&'a Map<String, Value>, NexoError> {
    let expected = if name == "SaleToPOIRequest" {
        "a SaleToPOIRequest object"
    } else {
        "a SaleToPOIResponse object"
    };
    let wrong = || NexoError::Envelope {
        expected,
        found: describe(value),
    };
    let Value::Object(top) = value else {
        return Err(wrong());
    };
    match top.get(name) {
        Some(Value::Object(inner)) => Ok(inner),
        Some(_) => Err(NexoError::WrongType {
            field: name.to_owned(),
            expected: "an object",
        }),
        None if bare_ok && top.contains_key("MessageHeader") => Ok(top),
        None => Err(wrong()),
    }
}

/// The single `<X>Request` / `<X>Response` member next to MessageHeader.
fn body_of<'a>(
    o: &Obj<'a>,
    envelope: &'static str,
    suffix: &str,
    kind: &'static str,
) -> Result<(&'a str, &'a Map<String, Value>), NexoError> {
    if o.map.contains_key("NexoBlob") {
        return Err(NexoError::Encrypted { envelope });
    }
    let (name, value) = o
        .map
        .iter()
        .find(|(k, _)| k.ends_with(suffix) && k.len() > suffix.len())
        .ok_or(NexoError::MissingBody { envelope, kind })?;
    match value {
        Value::Object(map) => Ok((name.as_str(), map)),
        _ => Err(o.wrong(name, "an object")),
    }
}

/// A JSON object with its path, for errors that name the field.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    fn new(map: &'a Map<String, Value>, path: String) -> Self {
        Self { map, path }
    }

    fn field(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    fn missing(&self, key: &str) -> NexoError {
        NexoError::MissingField {
            field: self.field(key),
        }
    }

    fn wrong(&self, key: &str, expected: &'static str) -> NexoError {
        NexoError::WrongType {
            field: self.field(key),
            expected,
        }
    }

    fn opt_str(&self, key: &str) -> Result<Option<String>, NexoError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            // Some sale systems send numeric ids unquoted.
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(self.wrong(key, "a string")),
        }
    }

    fn str(&self, key: &str) -> Result<String, NexoError> {
        self.opt_str(key)?.ok_or_else(|| self.missing(key))
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>, NexoError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(self.wrong(key, "a boolean")),
        }
    }

    fn opt_obj(&self, key: &str) -> Result<Option<Obj<'a>>, NexoError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Obj {
                map: m,
                path: self.field(key),
            })),
            Some(_) => Err(self.wrong(key, "an object")),
        }
    }

    fn obj(&self, key: &str) -> Result<Obj<'a>, NexoError> {
        self.opt_obj(key)?.ok_or_else(|| self.missing(key))
    }

    /// A list of strings; a single string is taken as a list of one.
    fn str_list(&self, key: &str) -> Result<Vec<String>, NexoError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(self.wrong(key, "a list of strings")),
                })
                .collect(),
            Some(_) => Err(self.wrong(key, "a list of strings")),
        }
    }

    /// A list of objects; a single object is taken as a list of one.
    fn obj_list(&self, key: &str) -> Result<Vec<Obj<'a>>, NexoError> {
        let items: Vec<&'a Value> = match self.get(key) {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().collect(),
            Some(v @ Value::Object(_)) => vec![v],
            Some(_) => return Err(self.wrong(key, "a list of objects")),
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(m) => Ok(Obj {
                    map: m,
                    path: format!("{}[{i}]", self.field(key)),
                }),
                _ => Err(self.wrong(key, "a list of objects")),
            })
            .collect()
    }
}
