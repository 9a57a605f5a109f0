//! Network management: building echo-test and sign-on requests per dialect, recognising
//! them, answering them (for simulators) and matching a response to its request.
//!
//! What each dialect sends, and why:
//! - 1987 (`ascii`, `binary`): MTI 0800 with field 7 (transmission date and time), field 11
//!   (STAN) and field 70 = 301 (echo) or 001 (sign-on), the most common convention.
//! - 1993 (`ascii-1993`): MTI 1804 with fields 7, 11 and function code field 24 = 831
//!   (echo) or 801 (sign-on); the host answers 1814 with action code 800 in field 39.
//! - China UnionPay (`cup`): the echo is an advice, 0820 (sign-on stays 0800). A CUP bitmap
//!   has no field 70 and CUP POS messages carry no field 7, so the network management
//!   information code travels in field 60.3 as in CUP POS traffic: field 60 = `00` (60.1,
//!   message type code) + `000000` (60.2, batch number) + `301` (echo) or `003` (sign-on with
//!   double-length keys). Fields 41 and 42 identify the terminal, as in every CUP request.
//!
//! The codec reads no clock: the caller passes field 7.

use super::dialect::{Dialect, Framing, Version};
use super::error::Iso8583Error;
use super::message::{CupFrame, Message, Mti};

/// What a network management request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkAction {
    /// Echo test (keep-alive, host reachability).
    Echo,
    /// Sign-on.
    SignOn,
}

/// The caller-supplied parts of a network management request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRequest {
    /// Echo or sign-on.
    pub action: NetworkAction,
    /// System trace audit number, field 11 (0..=999999; larger values wrap).
    pub stan: u32,
    /// Field 7, MMDDhhmmss (GMT), for 1987 and 1993 dialects.
    pub transmission_date_time: String,
    /// Field 41 (8 characters), China UnionPay only.
    pub terminal_id: String,
    /// Field 42 (15 characters), China UnionPay only.
    pub merchant_id: String,
    /// TPDU and header, China UnionPay only.
    pub cup: CupFrame,
}

impl NetworkRequest {
    /// An echo test with `stan` and field 7 = `transmission_date_time`.
    pub fn echo(stan: u32, transmission_date_time: impl Into<String>) -> Self {
        Self {
            action: NetworkAction::Echo,
            stan,
            transmission_date_time: transmission_date_time.into(),
            terminal_id: "00000001".to_owned(),
            merchant_id: "000000000000001".to_owned(),
            cup: CupFrame::default(),
        }
    }

    /// A sign-on with `stan` and field 7 = `transmission_date_time`.
    pub fn sign_on(stan: u32, transmission_date_time: impl Into<String>) -> Self {
        Self {
            action: NetworkAction::SignOn,
            ..Self::echo(stan, transmission_date_time)
        }
    }

    /// The request message in `dialect`'s convention (see the module documentation).
    /// Encoding it checks the values against the dialect.
    pub fn build(&self, dialect: &Dialect) -> Result<Message, Iso8583Error> {
        let stan = format!("{:06}", self.stan % 1_000_000);
        let message = match (dialect.framing(), dialect.version()) {
            (Framing::Cup, _) => {
                let (mti, code) = match self.action {
                    NetworkAction::Echo => (Mti::NETWORK_ADVICE, "301"),
                    NetworkAction::SignOn => (Mti::NETWORK_REQUEST, "003"),
                };
                let mut m = Message::new(mti)
                    .with(11, stan)?
                    .with(41, self.terminal_id.as_str())?
                    .with(42, self.merchant_id.as_str())?
                    .with(60, format!("00000000{code}"))?;
                m.set_cup(Some(self.cup));
                m
            }
            (Framing::Plain, Version::V1987) => Message::new(Mti::NETWORK_REQUEST)
                .with(7, self.transmission_date_time.as_str())?
                .with(11, stan)?
                .with(
                    70,
                    match self.action {
                        NetworkAction::Echo => "301",
                        NetworkAction::SignOn => "001",
                    },
                )?,
            (Framing::Plain, Version::V1993) => Message::new(Mti::NETWORK_REQUEST_1993)
                .with(7, self.transmission_date_time.as_str())?
                .with(11, stan)?
                .with(
                    24,
                    match self.action {
                        NetworkAction::Echo => "831",
                        NetworkAction::SignOn => "801",
                    },
                )?,
        };
        Ok(message)
    }
}

/// What network management request `message` is, in any of the conventions above; `None` for
/// anything else (including responses).
pub fn network_action(message: &Message) -> Option<NetworkAction> {
    let code = match message.mti().as_str() {
        "0800" | "0820" => match message.text(70) {
            Some(code) => code,
            // CUP: field 60.3.
            None => message.text(60).and_then(|f| f.get(8..11))?,
        },
        "1804" | "1820" => message.text(24)?,
        _ => return None,
    };
    match code {
        "301" | "831" => Some(NetworkAction::Echo),
        "001" | "801" | "003" | "004" => Some(NetworkAction::SignOn),
        _ => None,
    }
}

/// Whether `response` answers `request`: its MTI is the request's plus 10 and field 11 (STAN)
/// is present and the same in both.
pub fn is_response_to(request: &Message, response: &Message) -> bool {
    request.mti().response() == Some(response.mti())
        && request.get(11).is_some()
        && request.get(11) == response.get(11)
}

/// The fields a network management response copies from its request.
const ECHOED_FIELDS: [u8; 7] = [7, 11, 24, 41, 42, 60, 70];

/// The response a host sends to `request` with field 39 = `code`: MTI plus 10, fields 7, 11,
/// 24, 41, 42, 60 and 70 copied when present, and for China UnionPay the TPDU with source and
/// destination swapped and the header copied.
pub fn answer(request: &Message, code: &str) -> Result<Message, Iso8583Error> {
    let mti = request
        .mti()
        .response()
        .ok_or_else(|| Iso8583Error::NotARequest {
            mti: request.mti().to_string(),
        })?;
    let mut response = Message::new(mti);
    for field in ECHOED_FIELDS {
        if let Some(value) = request.get(field) {
            response.set(field, value)?;
        }
    }
    response.set(39, code)?;
    response.set_cup(request.cup().map(|cup| CupFrame {
        tpdu: cup.tpdu.swapped(),
        header: cup.header,
    }));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dialect_builds_its_echo_and_the_answer_matches() {
        for dialect in [
            Dialect::ascii(),
            Dialect::binary(),
            Dialect::ascii_1993(),
            Dialect::cup(),
        ] {
            let request = NetworkRequest::echo(123, "1122083015")
                .build(&dialect)
                .unwrap();
            let bytes = dialect.encode(&request).unwrap();
            let decoded = dialect.decode(&bytes).unwrap();
            assert_eq!(
                network_action(&decoded),
                Some(NetworkAction::Echo),
                "{}",
                dialect.name()
            );
            let code = if dialect.version() == Version::V1993 {
                "800"
            } else {
                "00"
            };
            let response = answer(&decoded, code).unwrap();
            let response = dialect.decode(&dialect.encode(&response).unwrap()).unwrap();
            assert!(is_response_to(&request, &response), "{}", dialect.name());
            assert_eq!(response.response_code(), Some(code));
            assert!(!is_response_to(&response, &request));

            let sign_on = NetworkRequest::sign_on(5, "1122083015")
                .build(&dialect)
                .unwrap();
            assert_eq!(network_action(&sign_on), Some(NetworkAction::SignOn));
        }
    }

    #[test]
    fn cup_echo_is_0820_and_the_answer_swaps_the_tpdu() {
        let request = NetworkRequest::echo(7, "").build(&Dialect::cup()).unwrap();
        assert_eq!(request.mti().as_str(), "0820");
        assert_eq!(request.text(60), Some("00000000301"));
        let response = answer(&request, "00").unwrap();
        assert_eq!(response.mti().as_str(), "0830");
        let tpdu = response.cup().unwrap().tpdu;
        assert_eq!((tpdu.destination, tpdu.source), (0x0000, 0x0003));
    }

    #[test]
    fn a_different_stan_does_not_match() {
        let d = Dialect::ascii();
        let request = NetworkRequest::echo(1, "1122083015").build(&d).unwrap();
        let mut response = answer(&request, "00").unwrap();
        response.set(11, "000002").unwrap();
        assert!(!is_response_to(&request, &response));
        assert!(answer(&response, "00").is_err());
    }
}
