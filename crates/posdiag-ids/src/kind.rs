//! The identifier kinds posdiag knows, with their stable names, titles and
//! expected formats in both languages, and the `auto` selector.

use std::fmt;
use std::str::FromStr;

use posdiag_core::Text;

/// A kind of identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Payment card number (PAN): IIN brand ranges, per-brand lengths, Luhn.
    Pan,
    /// Any digit string with a Luhn check digit.
    Luhn,
    /// Chinese resident identity number (GB 11643).
    CnRic,
    /// Chinese unified social credit code (GB 32100).
    CnUscc,
    /// International bank account number (ISO 13616).
    Iban,
    /// Business identifier code / SWIFT code (ISO 9362).
    Bic,
    /// Mobile equipment identity (3GPP TS 23.003).
    Imei,
    /// CDMA mobile equipment identifier.
    Meid,
    /// Mobile subscriber identity (ITU-T E.212).
    Imsi,
    /// Card acceptor terminal identification (ISO 8583 field 41).
    Tid,
    /// Card acceptor identification code (ISO 8583 field 42).
    Mid,
    /// Mainland China mobile number or E.164 international number.
    Phone,
    /// A wallet's payment code (付款码: WeChat Pay, Alipay, UnionPay QR), a
    /// one-time bearer token a customer shows at the till.
    Paycode,
    /// Hong Kong identity card number (letters, 6 digits, check character).
    HkId,
    /// Taiwan identity card number (letter, 9 digits, check digit).
    TwId,
    /// Mainland residence permit of a Hong Kong, Macao or Taiwan resident
    /// (the resident identity number format with region 810000, 820000 or
    /// 830000).
    CnRp,
}

impl Kind {
    /// Every kind, in the order `auto` reports them when equally plausible.
    pub const ALL: &'static [Kind] = &[
        Kind::Pan,
        Kind::Luhn,
        Kind::CnRic,
        Kind::CnUscc,
        Kind::Iban,
        Kind::Bic,
        Kind::Imei,
        Kind::Meid,
        Kind::Imsi,
        Kind::Tid,
        Kind::Mid,
        Kind::Phone,
        Kind::Paycode,
        Kind::HkId,
        Kind::TwId,
        Kind::CnRp,
    ];

    /// The stable name used in config, on the command line and on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pan => "pan",
            Kind::Luhn => "luhn",
            Kind::CnRic => "cn-ric",
            Kind::CnUscc => "cn-uscc",
            Kind::Iban => "iban",
            Kind::Bic => "bic",
            Kind::Imei => "imei",
            Kind::Meid => "meid",
            Kind::Imsi => "imsi",
            Kind::Tid => "tid",
            Kind::Mid => "mid",
            Kind::Phone => "phone",
            Kind::Paycode => "paycode",
            Kind::HkId => "hk-id",
            Kind::TwId => "tw-id",
            Kind::CnRp => "cn-rp",
        }
    }

    /// The kind named `s`: case-insensitive, with `-`, `_` or `.` between
    /// words (`cn-ric`, `CN_RIC`, `cn.ric`).
    pub fn from_name(s: &str) -> Option<Kind> {
        let s = s.trim();
        Kind::ALL.iter().copied().find(|k| {
            let name = k.name().as_bytes();
            s.len() == name.len()
                && s.bytes().zip(name).all(|(a, &b)| {
                    let a = match a.to_ascii_lowercase() {
                        b'_' | b'.' => b'-',
                        a => a,
                    };
                    a == b
                })
        })
    }

    /// What the kind is called, for people.
    pub fn title(self) -> Text {
        let (en, zh) = match self {
            Kind::Pan => ("payment card number", "银行卡号"),
            Kind::Luhn => ("Luhn-checked number", "Luhn 校验号码"),
            Kind::CnRic => ("resident identity number", "居民身份证号码"),
            Kind::CnUscc => ("unified social credit code", "统一社会信用代码"),
            Kind::Iban => ("IBAN", "国际银行账号（IBAN）"),
            Kind::Bic => ("BIC (SWIFT code)", "BIC（SWIFT 代码）"),
            Kind::Imei => ("IMEI", "IMEI（移动设备识别码）"),
            Kind::Meid => ("MEID", "MEID（移动设备识别码）"),
            Kind::Imsi => ("IMSI", "IMSI（国际移动用户识别码）"),
            Kind::Tid => ("terminal ID", "终端号"),
            Kind::Mid => ("merchant ID", "商户号"),
            Kind::Phone => ("phone number", "电话号码"),
            Kind::Paycode => ("wallet payment code", "付款码"),
            Kind::HkId => ("Hong Kong identity card number", "香港身份证号码"),
            Kind::TwId => ("Taiwan identity card number", "台湾身份证号码"),
            Kind::CnRp => (
                "residence permit number of a Hong Kong, Macao or Taiwan resident",
                "港澳台居民居住证号码",
            ),
        };
        Text::new(en, zh)
    }

    /// The expected format, in words.
    pub fn format(self) -> Text {
        let (en, zh) = match self {
            Kind::Pan => (
                "12 to 19 digits; the first digits name the card brand, which fixes the length, and the last is a Luhn check digit",
                "12 至 19 位数字；前几位标识卡组织并决定长度，最后一位是 Luhn 校验位",
            ),
            Kind::Luhn => (
                "digits only, the last one a Luhn check digit",
                "仅含数字，最后一位是 Luhn 校验位",
            ),
            Kind::CnRic => (
                "18 characters: 17 digits and a check character (0-9 or X)",
                "18 位：17 位数字加 1 位校验码（0-9 或 X）",
            ),
            Kind::CnUscc => (
                "18 characters: 8 digits, then 9 digits or capital letters, then a check character; the letters I, O, S, V and Z are never used",
                "18 位：8 位数字，再接 9 位数字或大写字母，最后一位校验码；不使用字母 I、O、S、V、Z",
            ),
            Kind::Iban => (
                "a 2-letter country code, 2 check digits, then the account number in that country's fixed format (at most 34 characters in all)",
                "2 位字母国家代码、2 位校验数字，再接该国固定格式的账号（总长不超过 34 位）",
            ),
            Kind::Bic => (
                "8 or 11 characters: 4-letter bank code, 2-letter country code, 2-character location code, optional 3-character branch code",
                "8 或 11 位：4 位字母银行代码、2 位字母国家代码、2 位地区代码，可选 3 位分行代码",
            ),
            Kind::Imei => (
                "15 digits ending in a Luhn check digit (14 without the check digit, 16 for an IMEISV)",
                "15 位数字，最后一位是 Luhn 校验位（不含校验位为 14 位，IMEISV 为 16 位）",
            ),
            Kind::Meid => (
                "14 hexadecimal characters (15 with the check digit) or 18 decimal digits (19 with the check digit)",
                "14 位十六进制字符（含校验位为 15 位）或 18 位十进制数字（含校验位为 19 位）",
            ),
            Kind::Imsi => (
                "14 or 15 digits starting with an assigned 3-digit mobile country code",
                "14 或 15 位数字，以已分配的 3 位移动国家代码开头",
            ),
            Kind::Tid => (
                "exactly 8 printable ASCII characters (ISO 8583 field 41)",
                "恰好 8 个可打印 ASCII 字符（ISO 8583 第 41 域）",
            ),
            Kind::Mid => (
                "exactly 15 printable ASCII characters, space padded when shorter (ISO 8583 field 42)",
                "恰好 15 个可打印 ASCII 字符，不足时以空格补齐（ISO 8583 第 42 域）",
            ),
            Kind::Phone => (
                "a mainland China mobile number (11 digits starting 13 to 19, optionally after +86) or + then 8 to 15 digits (E.164)",
                "中国大陆手机号（以 13 至 19 开头的 11 位数字，可加 +86）或 + 加 8 至 15 位数字（E.164）",
            ),
            Kind::Paycode => (
                "WeChat Pay: 18 digits starting 10 to 15; Alipay: 16 to 24 digits starting 25 to 30; UnionPay QR: 19 digits starting 62",
                "微信支付：以 10 至 15 开头的 18 位数字；支付宝：以 25 至 30 开头的 16 至 24 位数字；银联二维码：以 62 开头的 19 位数字",
            ),
            Kind::HkId => (
                "1 or 2 letters, 6 digits and a check character (0-9 or A), often written in parentheses: A123456(3)",
                "1 或 2 位字母、6 位数字和 1 位校验码（0-9 或 A），校验码常写在括号内：A123456(3)",
            ),
            Kind::TwId => (
                "10 characters: a capital letter, then 1 or 2 (8 or 9 for a resident certificate), 7 digits and a check digit",
                "10 位：1 位大写字母，接 1 或 2（居留证为 8 或 9）、7 位数字和 1 位校验码",
            ),
            Kind::CnRp => (
                "18 characters like a resident identity number, starting 810000 (Hong Kong), 820000 (Macao) or 830000 (Taiwan)",
                "18 位，格式同居民身份证号码，以 810000（香港）、820000（澳门）或 830000（台湾）开头",
            ),
        };
        Text::new(en, zh)
    }

    /// Whether values of this kind are shown only masked: card numbers
    /// and identity numbers (personal data) show their first six and last
    /// four digits, Hong Kong and Taiwan IDs their letters and check
    /// character, payment codes (bearer tokens) their first two digits
    /// only. Any other value of 12 or more digits is masked too, since it
    /// could be a card number.
    pub fn sensitive(self) -> bool {
        matches!(
            self,
            Kind::Pan | Kind::CnRic | Kind::Paycode | Kind::HkId | Kind::TwId | Kind::CnRp
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The kind to validate as: one kind, or `auto` (whatever the input could be).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KindSel {
    /// Report every kind the input could be; validate as the most plausible.
    #[default]
    Auto,
    /// Validate as this kind.
    Kind(Kind),
}

impl KindSel {
    /// `auto` or the kind's name.
    pub fn name(self) -> &'static str {
        match self {
            KindSel::Auto => "auto",
            KindSel::Kind(k) => k.name(),
        }
    }
}

impl fmt::Display for KindSel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<Kind> for KindSel {
    fn from(k: Kind) -> KindSel {
        KindSel::Kind(k)
    }
}

impl FromStr for KindSel {
    type Err = String;

    /// `auto`, the empty string (proto3's default) or a kind name.
    fn from_str(s: &str) -> Result<KindSel, String> {
        if s.trim().is_empty() || s.trim().eq_ignore_ascii_case("auto") {
            return Ok(KindSel::Auto);
        }
        Kind::from_name(s).map(KindSel::Kind).ok_or_else(|| {
            let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            format!(
                "unknown identifier kind {}: expected auto, {}",
                posdiag_core::quote(s),
                names.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_every_spelling() {
        for &k in Kind::ALL {
            assert_eq!(Kind::from_name(k.name()), Some(k));
            assert_eq!(Kind::from_name(&k.name().to_uppercase()), Some(k));
            assert_eq!(Kind::from_name(&k.name().replace('-', "_")), Some(k));
            assert_eq!(Kind::from_name(&k.name().replace('-', ".")), Some(k));
        }
        assert_eq!(Kind::from_name("CN_RIC"), Some(Kind::CnRic));
        assert_eq!(Kind::from_name("cnric"), None);
    }

    #[test]
    fn kind_selector_parses_auto_empty_and_names() {
        assert_eq!("auto".parse::<KindSel>(), Ok(KindSel::Auto));
        assert_eq!("".parse::<KindSel>(), Ok(KindSel::Auto));
        assert_eq!(
            "cn.uscc".parse::<KindSel>(),
            Ok(KindSel::Kind(Kind::CnUscc))
        );
        let err = "passport".parse::<KindSel>().unwrap_err();
        assert!(
            err.contains("\"passport\"") && err.contains("cn-ric") && err.contains("phone"),
            "{err}"
        );
    }

    #[test]
    fn cards_identity_numbers_and_payment_codes_are_sensitive() {
        let sensitive: Vec<Kind> = Kind::ALL
            .iter()
            .copied()
            .filter(|k| k.sensitive())
            .collect();
        assert_eq!(
            sensitive,
            [
                Kind::Pan,
                Kind::CnRic,
                Kind::Paycode,
                Kind::HkId,
                Kind::TwId,
                Kind::CnRp
            ]
        );
    }
}
