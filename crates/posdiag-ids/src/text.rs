//! Sentences in English and Simplified Chinese: what a value is, what is
//! wrong with it, what was expected and what to do. Nothing here prints a
//! digit of the input beyond what [`crate::mask`] allows: messages name
//! positions, lengths, brands and codes, never the value.

use posdiag_core::Text;

use crate::checks::{Dial, Fail, ImeiForm, Info, Wallet, What};
use crate::iin;
use crate::kind::Kind;
use crate::reason::IdReason;
use crate::tables;

#[cfg(test)]
thread_local! {
    /// Texts built on this thread: a test shows that validating builds none.
    pub(crate) static BUILT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

pub(crate) fn t(en: impl Into<String>, zh: impl Into<String>) -> Text {
    #[cfg(test)]
    BUILT.with(|n| n.set(n.get() + 1));
    Text::new(en, zh)
}

/// "13, 16, 18 or 19" / "13、16、18 或 19" for a length mask.
pub(crate) fn lengths_words(mask: u32) -> (String, String) {
    let ls: Vec<String> = (0..32)
        .filter(|n| mask & (1 << n) != 0)
        .map(|n| n.to_string())
        .collect();
    match ls.split_last() {
        None => (String::new(), String::new()),
        Some((last, [])) => (last.clone(), last.clone()),
        Some((last, rest)) => (
            format!("{} or {last}", rest.join(", ")),
            format!("{} 或 {last}", rest.join("、")),
        ),
    }
}

/// Brand names for a brand mask.
pub(crate) fn brand_names(mask: u64) -> (String, String) {
    iin::TABLE.names(mask)
}

/// Brand mask of the longest matching IIN prefix of `digits`.
pub(crate) fn brands_of(digits: &[u8]) -> u64 {
    if digits.len() < 8 || !digits.iter().all(u8::is_ascii_digit) {
        return 0;
    }
    iin::TABLE
        .lookup(digits)
        .rules()
        .iter()
        .fold(0, |m, r| m | 1 << r.brand)
}

fn province_names(code: u8) -> (String, String) {
    match tables::cn_province(code) {
        Some((en, zh)) => (en.to_owned(), zh.to_owned()),
        None => (format!("region {code:02}"), format!("地区 {code:02}")),
    }
}

fn ascii(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The name of an invisible character, for notes.
fn invisible_name(c: char) -> (&'static str, &'static str) {
    match c {
        '\u{200B}' => ("zero-width space", "零宽空格"),
        '\u{200C}' | '\u{200D}' => ("zero-width joiner", "零宽连接符"),
        '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => {
            ("text direction mark", "文字方向标记")
        }
        '\u{2060}' => ("word joiner", "零宽不换行符"),
        '\u{FEFF}' => (
            "byte order mark (zero-width no-break space)",
            "字节顺序标记（零宽不换行空格）",
        ),
        '\u{00AD}' => ("soft hyphen", "软连字符"),
        _ => ("invisible character", "不可见字符"),
    }
}

/// The detail of a candidate: "Visa", "mainland China mobile", "birth date
/// valid, …". Never a part of the value its mask hides.
pub(crate) fn detail(info: &Info, value: &[u8]) -> Text {
    match *info {
        Info::Pan { brands: 0, .. } => t("brand not recognised", "未识别卡组织"),
        Info::Pan { brands, luhn } => {
            let (en, zh) = brand_names(brands);
            if luhn {
                t(en, zh)
            } else {
                t(
                    format!("{en}, no Luhn check digit"),
                    format!("{zh}，无 Luhn 校验位"),
                )
            }
        }
        Info::Luhn { digits } => t(
            format!("{digits} digits, Luhn check digit correct"),
            format!("{digits} 位数字，Luhn 校验正确"),
        ),
        // What was checked, not what was found: the birth date, region and
        // sex a resident identity number encodes are what its mask hides.
        Info::CnRic => t(
            "birth date valid, region code known (county level, in use in the birth year), check character correct",
            "出生日期有效，地区码可识别（县级，出生年份时已启用），校验码正确",
        ),
        Info::CnUscc { province } => {
            let (pen, pzh) = province_names(province);
            t(format!("registered in {pen}"), format!("登记于{pzh}"))
        }
        Info::Iban { cc } => {
            let name = tables::iban_format(cc).map_or("", |(n, _)| n);
            let cc = ascii(&cc);
            t(format!("{name} ({cc})"), format!("国家代码 {cc}"))
        }
        Info::Bic { cc, branch } => {
            let bank = ascii(&value.get(..4).unwrap_or_default().to_ascii_uppercase());
            let cc = ascii(&cc);
            if branch {
                let b = ascii(&value.get(8..11).unwrap_or_default().to_ascii_uppercase());
                t(
                    format!("bank {bank}, country {cc}, branch {b}"),
                    format!("银行代码 {bank}，国家 {cc}，分行 {b}"),
                )
            } else {
                t(
                    format!("bank {bank}, country {cc}, head office"),
                    format!("银行代码 {bank}，国家 {cc}，总行"),
                )
            }
        }
        Info::Imei(ImeiForm::Checked) => t("IMEI with check digit", "带校验位的 IMEI"),
        Info::Imei(ImeiForm::Unchecked) => t("IMEI without check digit", "不带校验位的 IMEI"),
        Info::Imei(ImeiForm::Sv) => t(
            "IMEISV (IMEI with software version)",
            "IMEISV（带软件版本号的 IMEI）",
        ),
        Info::Meid { hex, check } => {
            let (fe, fz) = if hex {
                ("hexadecimal", "十六进制")
            } else {
                ("decimal", "十进制")
            };
            let (ce, cz) = if check {
                ("with", "带")
            } else {
                ("without", "不带")
            };
            t(
                format!("{fe} form, {ce} check digit"),
                format!("{fz}形式，{cz}校验位"),
            )
        }
        Info::Imsi { mcc } => t(
            format!("mobile country code {mcc:03}"),
            format!("移动国家代码 {mcc:03}"),
        ),
        Info::Tid { padded } | Info::Mid { padded } => {
            let n = if matches!(info, Info::Tid { .. }) {
                8
            } else {
                15
            };
            if padded {
                t(
                    format!("space padded to {n} characters"),
                    format!("以空格补齐至 {n} 位"),
                )
            } else {
                t(format!("{n} characters"), format!("{n} 位"))
            }
        }
        Info::Phone { mainland: true, .. } => t("mainland China mobile", "中国大陆手机号"),
        Info::Phone {
            mainland: false, ..
        } => t("E.164 international", "E.164 国际号码"),
        Info::Paycode(w) => {
            let (en, zh) = wallet_names(w);
            t(format!("{en} payment code"), format!("{zh}付款码"))
        }
        Info::HkId { letters } => t(
            format!("{letters}-letter prefix, check character correct"),
            format!("{letters} 位字母前缀，校验码正确"),
        ),
        Info::TwId { resident: false } => {
            t("identity card, check digit correct", "身份证，校验码正确")
        }
        Info::TwId { resident: true } => t(
            "resident certificate (unified ID number), check digit correct",
            "居留证（统一证号），校验码正确",
        ),
        Info::CnRp { region } => {
            let (en, zh) = match region {
                81 => ("Hong Kong", "香港"),
                82 => ("Macao", "澳门"),
                _ => ("Taiwan", "台湾"),
            };
            t(
                format!("{en} resident, birth date valid, check character correct"),
                format!("{zh}居民，出生日期有效，校验码正确"),
            )
        }
    }
}

/// A wallet's name.
pub(crate) fn wallet_names(w: Wallet) -> (&'static str, &'static str) {
    match w {
        Wallet::WeChat => ("WeChat Pay", "微信支付"),
        Wallet::Alipay => ("Alipay", "支付宝"),
        Wallet::UnionPay => ("UnionPay QR", "银联二维码"),
    }
}

/// The English indefinite article for a kind's title.
pub(crate) fn article(kind: Kind) -> &'static str {
    if matches!(kind, Kind::Iban | Kind::Imei | Kind::Imsi) {
        "an"
    } else {
        "a"
    }
}

/// "a Visa card number" / "Visa 卡号": what a value is, as a noun phrase.
pub(crate) fn phrase(kind: Kind, info: &Info, value: &[u8]) -> Text {
    match *info {
        Info::Pan { brands, .. } if brands != 0 => {
            let (en, zh) = brand_names(brands);
            t(format!("a {en} card number"), format!("{zh} 卡号"))
        }
        Info::Phone { mainland: true, .. } => {
            t("a mainland China mobile number", "中国大陆手机号码")
        }
        Info::Phone {
            mainland: false, ..
        } => t("an international phone number", "国际电话号码"),
        _ => {
            let title = kind.title();
            let d = detail(info, value);
            t(
                format!("{} {} ({})", article(kind), title.en, d.en),
                format!("{}（{}）", title.zh, d.zh),
            )
        }
    }
}

/// The sentence for a valid value.
pub(crate) fn valid_message(kind: Kind, info: &Info, value: &[u8]) -> Text {
    match *info {
        Info::Pan { brands: 0, .. } => t(
            "valid payment card number (brand not recognised)",
            "有效的银行卡号（未识别卡组织）",
        ),
        Info::Pan { brands, luhn } => {
            let (en, zh) = brand_names(brands);
            if luhn {
                t(
                    format!("valid {en} card number"),
                    format!("有效的 {zh} 卡号"),
                )
            } else {
                t(
                    format!("valid {en} card number (this brand has no Luhn check digit)"),
                    format!("有效的 {zh} 卡号（该卡组织无 Luhn 校验位）"),
                )
            }
        }
        _ => {
            let title = kind.title();
            let d = detail(info, value);
            t(
                format!("valid {}: {}", title.en, d.en),
                format!("有效的{}：{}", title.zh, d.zh),
            )
        }
    }
}

/// "n digits" or "n characters" / "共 n 位".
fn count(value: &[u8]) -> (String, String) {
    let n = value.len();
    let unit = if !value.is_empty() && value.iter().all(u8::is_ascii_digit) {
        if n == 1 { "digit" } else { "digits" }
    } else if n == 1 {
        "character"
    } else {
        "characters"
    };
    (format!("{n} {unit}"), format!("共 {n} 位"))
}

/// How many characters a kind needs, in words.
fn need(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Pan => ("12 to 19 digits", "12 至 19 位"),
        Kind::CnRic | Kind::CnUscc | Kind::CnRp => ("18 characters", "18 位"),
        Kind::Paycode => ("16 to 24 digits", "16 至 24 位"),
        Kind::HkId => (
            "8 or 9 characters (the check character may be in parentheses)",
            "8 或 9 位（校验码可在括号内）",
        ),
        Kind::TwId => ("10 characters", "10 位"),
        Kind::Bic => ("8 or 11 characters", "8 或 11 位"),
        Kind::Imei => ("14, 15 or 16 digits", "14、15 或 16 位"),
        Kind::Meid => ("14, 15, 18 or 19 characters", "14、15、18 或 19 位"),
        Kind::Imsi => ("14 or 15 digits", "14 或 15 位"),
        Kind::Tid => ("exactly 8 characters", "恰好 8 位"),
        Kind::Mid => ("exactly 15 characters", "恰好 15 位"),
        Kind::Phone => (
            "11 digits, or 8 to 15 after the +",
            "11 位，或 + 后 8 至 15 位",
        ),
        Kind::Luhn | Kind::Iban => ("at least one character", "至少 1 位"),
    }
}

/// The default suggestion for a reason.
pub(crate) fn suggestion_for(reason: IdReason) -> Text {
    match reason {
        IdReason::Format => t(
            "check for a mistyped character and compare with the original",
            "请检查是否输错了字符，并与原件核对",
        ),
        IdReason::Length => t(
            "check for a missing or extra character",
            "请检查是否漏输或多输了字符",
        ),
        IdReason::Checksum => t(
            "a character is probably mistyped or two neighbours swapped: compare with the original",
            "可能输错了一位或颠倒了相邻两位：请与原件核对",
        ),
        IdReason::Component => t("compare with the original document", "请与原件核对"),
        IdReason::Charset => t(
            "retype the value with a half-width (半角) keyboard layout",
            "请使用半角输入法重新输入",
        ),
        IdReason::Unsupported => t(
            "enter an identifier of a kind the rules accept",
            "请输入规则所接受类型的号码",
        ),
        IdReason::Rule => t(
            "enter a value in the format the rules require",
            "请按规则要求的格式输入",
        ),
    }
}

/// "4 letters, 14 digits" for a SWIFT BBAN structure.
fn structure_words(structure: &str) -> (String, String) {
    let mut runs: Vec<(usize, char)> = Vec::new();
    for part in structure.split_inclusive(['n', 'a', 'c']) {
        let class = part.chars().last().unwrap_or('c');
        let n: usize = part[..part.len() - 1]
            .trim_end_matches('!')
            .parse()
            .unwrap_or(0);
        match runs.last_mut() {
            Some((m, c)) if *c == class => *m += n,
            _ => runs.push((n, class)),
        }
    }
    let en: Vec<String> = runs
        .iter()
        .map(|(n, c)| match c {
            'n' => format!("{n} digits"),
            'a' => format!("{n} capital letters"),
            _ => format!("{n} letters or digits"),
        })
        .collect();
    let zh: Vec<String> = runs
        .iter()
        .map(|(n, c)| match c {
            'n' => format!("{n} 位数字"),
            'a' => format!("{n} 位大写字母"),
            _ => format!("{n} 位字母或数字"),
        })
        .collect();
    (en.join(", "), zh.join("、"))
}

/// Message, expected and suggestion for a value of `kind` that failed.
pub(crate) fn kind_failure(kind: Kind, f: &Fail, value: &[u8]) -> (Text, Text, Text) {
    let title = kind.title();
    let mut expected = kind.format();
    let mut suggestion = suggestion_for(f.reason);
    let message = match f.what {
        What::Empty => {
            suggestion = t(
                format!("enter the {}", title.en),
                format!("请输入{}", title.zh),
            );
            t("the value is empty", "值为空")
        }
        What::NotDigit { pos, ch } => {
            let ch = char::from(ch);
            suggestion = t(
                "check for a letter typed in place of a digit (O for 0, I or l for 1)",
                "请检查是否把数字误输为字母（如 O 与 0、I 或 l 与 1）",
            );
            t(
                format!(
                    "character {pos} ('{ch}') is not a digit: {} {} has digits only",
                    article(kind),
                    title.en
                ),
                format!("第 {pos} 个字符（“{ch}”）不是数字：{}只含数字", title.zh),
            )
        }
        What::NotAllowed { pos, ch } => {
            let ch = char::from(ch);
            match kind {
                Kind::CnUscc => {
                    suggestion = t(
                        "the letters I, O, S, V and Z are never used: check for 1, 0, 5, U or 2",
                        "统一社会信用代码不使用字母 I、O、S、V、Z：请检查是否应为 1、0、5、U 或 2",
                    );
                }
                Kind::Bic if pos <= 6 => {
                    suggestion = t(
                        "the first 6 characters of a BIC are letters: bank code and country code",
                        "BIC 前 6 位是字母：银行代码和国家代码",
                    );
                }
                Kind::Meid => {
                    suggestion = t(
                        "a 14- or 15-character MEID is hexadecimal: 0-9 and A-F only",
                        "14 或 15 位的 MEID 是十六进制：只含 0-9 和 A-F",
                    );
                }
                _ => {}
            }
            t(
                format!("character {pos} ('{ch}') is not allowed there"),
                format!("第 {pos} 个字符（“{ch}”）不能出现在此处"),
            )
        }
        What::Length { got } if kind == Kind::Phone => t(
            format!("{got} digits after the +, but an international number has 8 to 15"),
            format!("+ 后共 {got} 位，但国际号码应为 8 至 15 位"),
        ),
        What::Length { got } => {
            let (ne, nz) = need(kind);
            let (ce, cz) = count(value);
            if kind == Kind::CnRic && got == 15 && value.iter().all(u8::is_ascii_digit) {
                suggestion = t(
                    "15-digit numbers are first-generation IDs, replaced by 18 characters since 1999: use the number on the current card",
                    "15 位号码是第一代身份证号，1999 年起已升级为 18 位：请使用现行身份证上的号码",
                );
            } else if matches!(kind, Kind::Tid | Kind::Mid)
                && usize::from(got) < if kind == Kind::Tid { 8 } else { 15 }
            {
                suggestion = t(
                    "the field has a fixed length: pad it on the right with spaces, or check for a missing character",
                    "该域为定长：请在右侧以空格补齐，或检查是否漏输字符",
                );
            }
            t(
                format!("{ce} where {} {} has {ne}", article(kind), title.en),
                format!("{cz}，{}应为 {nz}", title.zh),
            )
        }
        What::PanLength {
            got,
            brands,
            lengths,
        } => {
            let (be, bz) = brand_names(brands);
            let (le, lz) = lengths_words(lengths);
            expected = t(
                format!("a {be} card number: {le} digits ending in a Luhn check digit"),
                format!("{bz} 卡号：{lz} 位数字，最后一位是 Luhn 校验位"),
            );
            t(
                format!("{got} digits, but {be} card numbers have {le}"),
                format!("共 {got} 位，但 {bz} 卡号应为 {lz} 位"),
            )
        }
        What::CheckDigit => match kind {
            Kind::Pan => {
                let brands = brands_of(value);
                if brands == 0 {
                    t("the Luhn check digit does not match", "Luhn 校验位不符")
                } else {
                    let (be, bz) = brand_names(brands);
                    t(
                        format!(
                            "this looks like a {be} card number, but the Luhn check digit does not match"
                        ),
                        format!("看起来是 {bz} 卡号，但 Luhn 校验位不符"),
                    )
                }
            }
            Kind::CnRic => t(
                "the check character does not match (GB 11643, ISO 7064 MOD 11-2)",
                "校验码不符（GB 11643，ISO 7064 MOD 11-2）",
            ),
            Kind::CnUscc => t(
                "the check character does not match (GB 32100)",
                "校验码不符（GB 32100）",
            ),
            Kind::Iban => {
                let mut m = t(
                    "the check digits do not match (ISO 7064 MOD 97-10)",
                    "校验位不符（ISO 7064 MOD 97-10）",
                );
                if value.len() >= 2 {
                    let cc = [value[0].to_ascii_uppercase(), value[1].to_ascii_uppercase()];
                    if let Some((name, structure)) = tables::iban_format(cc) {
                        let want = crate::checks::iban_length(structure);
                        if want != value.len() {
                            m.en.push_str(&format!(
                                "; also, IBANs from {name} have {want} characters and this has {}",
                                value.len()
                            ));
                            m.zh.push_str(&format!(
                                "；另外，{} 的 IBAN 应为 {want} 位，此处为 {} 位",
                                ascii(&cc),
                                value.len()
                            ));
                        }
                    }
                }
                m
            }
            Kind::Imei => t(
                "the Luhn check digit (the 15th digit) does not match",
                "第 15 位 Luhn 校验位不符",
            ),
            Kind::Luhn => t("the Luhn check digit does not match", "Luhn 校验位不符"),
            _ => t("the check digit does not match", "校验位不符"),
        },
        What::RicCheckChar { ch } => {
            let ch = char::from(ch);
            t(
                format!("the last character ('{ch}') must be a digit or X"),
                format!("最后一位（“{ch}”）必须是数字或 X"),
            )
        }
        // The date itself is not repeated: the mask hides it.
        What::Date {
            year_in_range: true,
        } => t(
            "the birth date (characters 7-14) is not a real date",
            "出生日期（第 7-14 位）不是真实存在的日期",
        ),
        What::Date {
            year_in_range: false,
        } => t(
            "the birth year (characters 7-10) is outside 1900-2099",
            "出生年份（第 7-10 位）不在 1900-2099 之间",
        ),
        What::Province { code } => t(
            format!("the region code starts {code:02}, which is not a province of China"),
            format!("地区码前两位 {code:02} 不是有效的省级行政区代码"),
        ),
        What::PaycodePrefix => {
            suggestion = t(
                "a payment code starts 10 to 15 (WeChat Pay), 25 to 30 (Alipay) or 62 (UnionPay QR): ask the customer to show the code again",
                "付款码以 10 至 15（微信支付）、25 至 30（支付宝）或 62（银联二维码）开头：请顾客重新出示付款码",
            );
            t(
                "the first two digits are no wallet's payment code prefix",
                "前两位不是任何钱包付款码的前缀",
            )
        }
        What::PaycodeLength { wallet, got } => {
            let (en, zh) = wallet_names(wallet);
            let (lo, hi) = wallet.lengths();
            let (le, lz) = if lo == hi {
                (format!("{lo}"), format!("{lo}"))
            } else {
                (format!("{lo} to {hi}"), format!("{lo} 至 {hi}"))
            };
            suggestion = t(
                "the code was probably cut short or scanned twice: ask the customer to refresh the code and scan it once",
                "付款码可能未扫全或重复扫描：请顾客刷新付款码后重新扫描一次",
            );
            t(
                format!("{got} digits, but {en} payment codes have {le}"),
                format!("共 {got} 位，但{zh}付款码应为 {lz} 位"),
            )
        }
        What::HkShape => t(
            "a Hong Kong identity card number is 1 or 2 letters, 6 digits and a check character (0-9 or A)",
            "香港身份证号码应为 1 或 2 位字母、6 位数字和 1 位校验码（0-9 或 A）",
        ),
        What::TwSecond => t(
            "the second character must be 1 or 2 (identity card) or 8 or 9 (resident certificate)",
            "第 2 位必须是 1 或 2（身份证）或 8 或 9（居留证）",
        ),
        What::RpRegion => {
            suggestion = t(
                "a residence permit starts 810000, 820000 or 830000; other numbers are resident identity numbers (cn-ric)",
                "居住证号码以 810000、820000 或 830000 开头；其他号码是居民身份证号码（cn-ric）",
            );
            t(
                "the region code (characters 1-6) is not 810000, 820000 or 830000",
                "地区码（第 1-6 位）不是 810000、820000 或 830000",
            )
        }
        What::County => t(
            "the region code (characters 1-6) is not a county of China, past or present",
            "地区码（第 1-6 位）不是中国现有或曾有的县级行政区代码",
        ),
        What::CountyYear => t(
            "the region code (characters 1-6) was not in use in the birth year",
            "地区码（第 1-6 位）在出生年份尚未启用或已撤销",
        ),
        What::IbanCountry => {
            suggestion = t(
                "an IBAN starts with the 2-letter code of a country that uses IBANs, such as DE or GB",
                "IBAN 以使用 IBAN 的国家的 2 位字母代码开头，如 DE、GB",
            );
            t(
                "the first two characters are not the code of a country that uses IBANs",
                "前两位不是使用 IBAN 的国家代码",
            )
        }
        What::IbanStructure { cc } => {
            let (name, structure) = tables::iban_format(cc).unwrap_or(("", ""));
            let want = crate::checks::iban_length(structure);
            let (se, sz) = structure_words(structure);
            let c = ascii(&cc);
            expected = t(
                format!("an IBAN from {name}: {want} characters — {c}, 2 check digits, then {se}"),
                format!("{c} 的 IBAN：共 {want} 位——{c}、2 位校验数字，再接 {sz}"),
            );
            if want == value.len() {
                t(
                    format!("the account part does not have the format used in {name} ({se})"),
                    format!("账号部分不符合 {c} 的格式（{sz}）"),
                )
            } else {
                t(
                    format!(
                        "IBANs from {name} have {want} characters; this has {}",
                        value.len()
                    ),
                    format!("{c} 的 IBAN 应为 {want} 位，此处为 {} 位", value.len()),
                )
            }
        }
        What::IbanNational { cc } => {
            let name = tables::iban_format(cc).map_or("", |(n, _)| n);
            t(
                format!("the national check digits inside the {name} account number do not match"),
                format!("{} 账号内部的国内校验位不符", ascii(&cc)),
            )
        }
        What::BicCountry { cc } => {
            let c = ascii(&cc);
            t(
                format!("'{c}' (characters 5-6) is not an ISO 3166 country code"),
                format!("第 5-6 位“{c}”不是 ISO 3166 国家代码"),
            )
        }
        What::MeidRange => t(
            "in the decimal form the manufacturer code (first 10 digits) must be below 4294967296 and the serial number (next 8) below 16777216",
            "十进制 MEID 的厂商代码（前 10 位）须小于 4294967296，序列号（其后 8 位）须小于 16777216",
        ),
        What::Mcc { mcc } => t(
            format!("mobile country code {mcc:03} (the first 3 digits) is not assigned"),
            format!("移动国家代码 {mcc:03}（前 3 位）未分配"),
        ),
        What::MobileLength { got } => t(
            format!("{got} digits, but a mainland China mobile number has 11"),
            format!("共 {got} 位，但中国大陆手机号应为 11 位"),
        ),
        What::MobilePrefix => t(
            "mainland China mobile numbers start with 13 to 19",
            "中国大陆手机号以 13 至 19 开头",
        ),
        What::CountryCodeZero => {
            suggestion = t(
                "write + and the country code, without the trunk prefix 0",
                "请写作 + 加国家代码，不要加国内长途前缀 0",
            );
            t("a country code never starts with 0", "国家代码不以 0 开头")
        }
        What::NoCountryCode => {
            suggestion = t(
                "write an international number as + and the country code, e.g. +44 20 7946 0000",
                "国际号码请写作 + 加国家代码，如 +44 20 7946 0000",
            );
            t(
                "not a mainland China mobile number, and an international number needs + and the country code",
                "不是中国大陆手机号；国际号码需以 + 和国家代码开头",
            )
        }
    };
    (message, expected, suggestion)
}

/// Notes on how the value was typed; `value` is the compact value with its
/// case as typed.
pub(crate) fn typing_notes(
    t_: &crate::normalize::Typing,
    kind: Option<Kind>,
    info: Option<&Info>,
    value: &[u8],
) -> Vec<Text> {
    let mut notes = Vec::new();
    let fixed = matches!(kind, Some(Kind::Tid | Kind::Mid));
    let padded = matches!(
        info,
        Some(Info::Tid { padded: true } | Info::Mid { padded: true })
    );
    if let Some((pos, c)) = t_.foreign {
        notes.push(t(
            format!(
                "character '{c}' at position {pos} is not part of any identifier and was ignored"
            ),
            format!("第 {pos} 个字符“{c}”不属于任何号码，已忽略"),
        ));
    }
    if let Some(pos) = t_.nul {
        notes.push(t(
            format!("NUL byte at position {pos} removed"),
            format!("已去除第 {pos} 个字符处的 NUL 空字节"),
        ));
    }
    if let Some((pos, c)) = t_.control {
        let u = u32::from(c);
        notes.push(t(
            format!("control character U+{u:04X} at position {pos} removed"),
            format!("已去除第 {pos} 个字符处的控制字符 U+{u:04X}"),
        ));
    }
    if let Some((pos, c)) = t_.invisible {
        let (ne, nz) = invisible_name(c);
        let u = u32::from(c);
        notes.push(t(
            format!("{ne} (U+{u:04X}) at position {pos} removed"),
            format!("已去除第 {pos} 个字符处的{nz}（U+{u:04X}）"),
        ));
    }
    if t_.fullwidth_digit.is_some() {
        notes.push(t(
            "full-width digits (from a Chinese input method) — use half-width 0-9",
            "全角数字（来自中文输入法）——请使用半角 0-9",
        ));
    }
    if t_.fullwidth_letter.is_some() {
        notes.push(t(
            "full-width letters (from a Chinese input method) — use half-width A-Z",
            "全角字母（来自中文输入法）——请使用半角 A-Z",
        ));
    }
    if let Some((pos, c)) = t_.fullwidth_other {
        if c == '\u{3000}' {
            notes.push(t(
                format!("full-width (ideographic) space at position {pos} — use a half-width space or none"),
                format!("第 {pos} 个字符是全角空格——请使用半角空格或删除"),
            ));
        } else {
            notes.push(t(
                format!("full-width '{c}' at position {pos} — use the half-width character"),
                format!("第 {pos} 个字符“{c}”是全角符号——请使用半角"),
            ));
        }
    }
    if let Some((pos, c)) = t_.unicode_space {
        let u = u32::from(c);
        notes.push(t(
            format!("special space U+{u:04X} at position {pos} read as a space"),
            format!("第 {pos} 个字符是特殊空格 U+{u:04X}，按普通空格处理"),
        ));
    }
    if t_.surrounding && !padded {
        notes.push(t("surrounding spaces removed", "已去除首尾空格"));
    }
    if padded {
        let n = if matches!(kind, Some(Kind::Tid)) {
            8
        } else {
            15
        };
        notes.push(t(
            format!("space padded to {n} characters (ISO 8583 fixed-length field)"),
            format!("以空格补齐至 {n} 位（ISO 8583 定长域）"),
        ));
    }
    if !fixed {
        if t_.inner_spaces > 0 {
            notes.push(t("grouping spaces removed", "已去除分组空格"));
        }
        if t_.inner_dashes > 0 {
            notes.push(t("grouping dashes removed", "已去除分隔短横线"));
        }
    }
    match kind {
        Some(Kind::CnRic) if value.last() == Some(&b'x') => {
            notes.push(t("lowercase x read as X", "小写 x 按 X 处理"));
        }
        Some(Kind::CnUscc | Kind::Iban | Kind::Bic | Kind::Meid)
            if value.iter().any(u8::is_ascii_lowercase) =>
        {
            notes.push(t(
                "lowercase letters read as capitals",
                "小写字母按大写处理",
            ));
        }
        _ => {}
    }
    match info {
        Some(Info::Phone {
            dial: Dial::DoubleZero,
            ..
        }) => {
            notes.push(t(
                "international prefix 00 read as +",
                "国际冠字 00 按 + 处理",
            ));
        }
        Some(Info::Phone {
            dial: Dial::Bare86, ..
        }) => {
            notes.push(t(
                "leading 86 read as the country code +86",
                "开头的 86 按国家代码 +86 处理",
            ));
        }
        _ => {}
    }
    notes
}

/// Message and suggestion for a charset problem, most serious first.
pub(crate) fn charset_problem(t_: &crate::normalize::Typing) -> (Text, Text) {
    if let Some(pos) = t_.nul {
        return (
            t(
                format!(
                    "NUL byte at position {pos}: the value probably came from a binary or UTF-16 file"
                ),
                format!("第 {pos} 个字符是 NUL 空字节：数据可能来自二进制或 UTF-16 文件"),
            ),
            t(
                "re-export the data as UTF-8 text",
                "请将数据重新导出为 UTF-8 文本",
            ),
        );
    }
    if let Some((pos, c)) = t_.control {
        let u = u32::from(c);
        return (
            t(
                format!("control character U+{u:04X} at position {pos}"),
                format!("第 {pos} 个字符是控制字符 U+{u:04X}"),
            ),
            t("remove it and type the value again", "请删除后重新输入"),
        );
    }
    if let Some((pos, c)) = t_.invisible {
        let (ne, nz) = invisible_name(c);
        let u = u32::from(c);
        return (
            t(
                format!("invisible {ne} (U+{u:04X}) at position {pos}"),
                format!("第 {pos} 个字符是不可见的{nz}（U+{u:04X}）"),
            ),
            t(
                "delete the value and type it again: invisible characters come with text copied from web pages and chat apps",
                "请删除后重新输入：不可见字符常随从网页或聊天软件复制的文本带入",
            ),
        );
    }
    if let Some((pos, c)) = t_.foreign {
        return (
            t(
                format!("character '{c}' at position {pos} cannot be part of an identifier"),
                format!("第 {pos} 个字符“{c}”不能出现在号码中"),
            ),
            t("remove it", "请删除该字符"),
        );
    }
    let fullwidth = [
        t_.fullwidth_digit,
        t_.fullwidth_letter,
        t_.fullwidth_other.map(|(p, _)| p),
    ]
    .into_iter()
    .flatten()
    .min();
    if let Some(pos) = fullwidth {
        return (
            t(
                format!("full-width characters from a Chinese input method, from position {pos}"),
                format!("从第 {pos} 个字符起含有全角字符（来自中文输入法）"),
            ),
            t(
                "switch the input method to half-width (半角) and type the value again",
                "请将输入法切换为半角后重新输入",
            ),
        );
    }
    if let Some((pos, c)) = t_.unicode_space {
        let u = u32::from(c);
        return (
            t(
                format!("special space character U+{u:04X} at position {pos}"),
                format!("第 {pos} 个字符是特殊空格 U+{u:04X}"),
            ),
            t(
                "replace it with a normal space, or remove it",
                "请替换为普通空格或删除",
            ),
        );
    }
    (
        t("unexpected characters", "含有异常字符"),
        suggestion_for(IdReason::Charset),
    )
}
