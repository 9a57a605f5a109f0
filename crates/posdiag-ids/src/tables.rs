//! Code tables the validators consult: IBAN formats per country, assigned
//! mobile country codes, the countries a BIC may name, and China's province
//! codes. Facts copied from public registries; each table names its source.

/// IBAN formats: country code, country name, BBAN structure (SWIFT notation:
/// `4!n` = exactly 4 digits, `a` = uppercase letters, `c` = letters or digits).
///
/// Source: SWIFT IBAN Registry release 101, as carried in python-stdnum 2.2
/// (`stdnum/iban.dat`, "generated from iban-registry-v101.txt").
pub(crate) const IBAN_FORMATS: &[(&str, &str, &str)] = &[
    ("AD", "Andorra", "4!n4!n12!c"),
    ("AE", "United Arab Emirates (The)", "3!n16!n"),
    ("AL", "Albania", "8!n16!c"),
    ("AT", "Austria", "5!n11!n"),
    ("AZ", "Azerbaijan", "4!a20!c"),
    ("BA", "Bosnia and Herzegovina", "3!n3!n8!n2!n"),
    ("BE", "Belgium", "3!n7!n2!n"),
    ("BG", "Bulgaria", "4!a4!n2!n8!c"),
    ("BH", "Bahrain", "4!a14!c"),
    ("BI", "Burundi", "5!n5!n11!n2!n"),
    ("BR", "Brazil", "8!n5!n10!n1!a1!c"),
    ("BY", "Belarus", "4!c4!n16!c"),
    ("CH", "Switzerland", "5!n12!c"),
    ("CR", "Costa Rica", "4!n14!n"),
    ("CY", "Cyprus", "3!n5!n16!c"),
    ("CZ", "Czechia", "4!n16!n"),
    ("DE", "Germany", "8!n10!n"),
    ("DJ", "Djibouti", "5!n5!n11!n2!n"),
    ("DK", "Denmark", "4!n9!n1!n"),
    ("DO", "Dominican Republic", "4!c20!n"),
    ("EE", "Estonia", "2!n14!n"),
    ("EG", "Egypt", "4!n4!n17!n"),
    ("ES", "Spain", "4!n4!n1!n1!n10!n"),
    ("FI", "Finland", "3!n11!n"),
    ("FK", "Falkland Islands (Malvinas)", "2!a12!n"),
    ("FO", "Faroe Islands", "4!n9!n1!n"),
    ("FR", "France", "5!n5!n11!c2!n"),
    ("GB", "United Kingdom", "4!a6!n8!n"),
    ("GE", "Georgia", "2!a16!n"),
    ("GI", "Gibraltar", "4!a15!c"),
    ("GL", "Greenland", "4!n9!n1!n"),
    ("GR", "Greece", "3!n4!n16!c"),
    ("GT", "Guatemala", "4!c20!c"),
    ("HN", "Honduras", "4!a20!n"),
    ("HR", "Croatia", "7!n10!n"),
    ("HU", "Hungary", "3!n4!n1!n15!n1!n"),
    ("IE", "Ireland", "4!a6!n8!n"),
    ("IL", "Israel", "3!n3!n13!n"),
    ("IQ", "Iraq", "4!a3!n12!n"),
    ("IS", "Iceland", "4!n2!n6!n10!n"),
    ("IT", "Italy", "1!a5!n5!n12!c"),
    ("JO", "Jordan", "4!a4!n18!c"),
    ("KW", "Kuwait", "4!a22!c"),
    ("KZ", "Kazakhstan", "3!n13!c"),
    ("LB", "Lebanon", "4!n20!c"),
    ("LC", "Saint Lucia", "4!a24!c"),
    ("LI", "Liechtenstein", "5!n12!c"),
    ("LT", "Lithuania", "5!n11!n"),
    ("LU", "Luxembourg", "3!n13!c"),
    ("LV", "Latvia", "4!a13!c"),
    ("LY", "Libya", "3!n3!n15!n"),
    ("MC", "Monaco", "5!n5!n11!c2!n"),
    ("MD", "Moldova, Republic of", "2!c18!c"),
    ("ME", "Montenegro", "3!n13!n2!n"),
    ("MK", "North Macedonia", "3!n10!c2!n"),
    ("MN", "Mongolia", "4!n12!n"),
    ("MR", "Mauritania", "5!n5!n11!n2!n"),
    ("MT", "Malta", "4!a5!n18!c"),
    ("MU", "Mauritius", "4!a2!n2!n12!n3!n3!a"),
    ("NI", "Nicaragua", "4!a20!n"),
    ("NL", "Netherlands (The)", "4!a10!n"),
    ("NO", "Norway", "4!n6!n1!n"),
    ("OM", "Oman", "3!n16!c"),
    ("PK", "Pakistan", "4!a16!c"),
    ("PL", "Poland", "8!n16!n"),
    ("PS", "Palestine, State of", "4!a21!c"),
    ("PT", "Portugal", "4!n4!n11!n2!n"),
    ("QA", "Qatar", "4!a21!c"),
    ("RO", "Romania", "4!a16!c"),
    ("RS", "Serbia", "3!n13!n2!n"),
    ("RU", "Russian Federation", "9!n5!n15!c"),
    ("SA", "Saudi Arabia", "2!n18!c"),
    ("SC", "Seychelles", "4!a2!n2!n16!n3!a"),
    ("SD", "Sudan", "2!n12!n"),
    ("SE", "Sweden", "3!n16!n1!n"),
    ("SI", "Slovenia", "5!n8!n2!n"),
    ("SK", "Slovakia", "4!n6!n10!n"),
    ("SM", "San Marino", "1!a5!n5!n12!c"),
    ("SO", "Somalia", "4!n3!n12!n"),
    ("ST", "Sao Tome and Principe", "4!n4!n11!n2!n"),
    ("SV", "El Salvador", "4!a20!n"),
    ("TL", "Timor-Leste", "3!n14!n2!n"),
    ("TN", "Tunisia", "2!n3!n13!n2!n"),
    ("TR", "Turkiye", "5!n1!n16!c"),
    ("UA", "Ukraine", "6!n19!c"),
    ("VA", "Holy See", "3!n15!n"),
    ("VG", "Virgin Islands (British)", "4!a16!n"),
    ("XK", "Kosovo", "4!n10!n2!n"),
    ("YE", "Yemen", "4!a4!n18!c"),
];

/// Mobile country codes (ITU-T E.212) that are assigned, test or international.
///
/// Source: the top-level prefixes of python-stdnum 2.2 `stdnum/imsi.dat`
/// ("generated from various sources", chiefly Wikipedia "Mobile country code").
pub(crate) const MCCS: &[u16] = &[
    1, 202, 204, 206, 208, 212, 213, 214, 216, 218, 219, 220, 221, 222, 226, 228, 230, 231, 232,
    234, 235, 238, 240, 242, 244, 246, 247, 248, 250, 255, 257, 259, 260, 262, 266, 268, 270, 272,
    274, 276, 278, 280, 282, 283, 284, 286, 288, 289, 290, 292, 293, 294, 295, 297, 302, 308, 310,
    311, 312, 313, 314, 316, 330, 334, 338, 340, 342, 344, 346, 348, 350, 352, 354, 356, 358, 360,
    362, 363, 364, 365, 366, 368, 370, 372, 374, 376, 400, 401, 402, 404, 405, 410, 412, 413, 414,
    415, 416, 417, 418, 419, 420, 421, 422, 424, 425, 426, 427, 428, 429, 432, 434, 436, 437, 438,
    440, 441, 450, 452, 454, 455, 456, 457, 460, 466, 467, 470, 472, 502, 505, 510, 514, 515, 520,
    525, 528, 530, 536, 537, 539, 540, 541, 542, 543, 544, 545, 546, 547, 548, 549, 550, 551, 552,
    553, 554, 555, 602, 603, 604, 605, 606, 607, 608, 609, 610, 611, 612, 613, 614, 615, 616, 617,
    618, 619, 620, 621, 622, 623, 624, 625, 626, 627, 628, 629, 630, 631, 632, 633, 634, 635, 636,
    637, 638, 639, 640, 641, 642, 643, 645, 646, 647, 648, 649, 650, 651, 652, 653, 654, 655, 657,
    658, 659, 702, 704, 706, 708, 710, 712, 714, 716, 722, 724, 730, 732, 734, 736, 738, 740, 742,
    744, 746, 748, 750, 901, 902, 991, 995, 999,
];

/// ISO 3166-1 alpha-2 country codes accepted in a BIC (plus `XK`, Kosovo).
///
/// Source: python-stdnum 2.2 `stdnum/bic.py` (`_country_codes`).
pub(crate) const BIC_COUNTRIES: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "XK", "YE", "YT", "ZA", "ZM", "ZW",
];

/// First two digits of a GB/T 2260 administrative division code (the
/// province level), with the province's English and Chinese names.
///
/// Source: GB/T 2260 province-level codes 11-82 (the same list opens
/// python-stdnum 2.2 `stdnum/cn/loc.dat`), plus 83 (residence permits of
/// Taiwan residents, which use region code 830000) and 91 (accepted as a
/// special code by posdiag's acquirers; python-stdnum rejects 83 and 91).
pub(crate) const CN_PROVINCES: &[(u8, &str, &str)] = &[
    (11, "Beijing", "北京市"),
    (12, "Tianjin", "天津市"),
    (13, "Hebei", "河北省"),
    (14, "Shanxi", "山西省"),
    (15, "Inner Mongolia", "内蒙古自治区"),
    (21, "Liaoning", "辽宁省"),
    (22, "Jilin", "吉林省"),
    (23, "Heilongjiang", "黑龙江省"),
    (31, "Shanghai", "上海市"),
    (32, "Jiangsu", "江苏省"),
    (33, "Zhejiang", "浙江省"),
    (34, "Anhui", "安徽省"),
    (35, "Fujian", "福建省"),
    (36, "Jiangxi", "江西省"),
    (37, "Shandong", "山东省"),
    (41, "Henan", "河南省"),
    (42, "Hubei", "湖北省"),
    (43, "Hunan", "湖南省"),
    (44, "Guangdong", "广东省"),
    (45, "Guangxi", "广西壮族自治区"),
    (46, "Hainan", "海南省"),
    (50, "Chongqing", "重庆市"),
    (51, "Sichuan", "四川省"),
    (52, "Guizhou", "贵州省"),
    (53, "Yunnan", "云南省"),
    (54, "Tibet", "西藏自治区"),
    (61, "Shaanxi", "陕西省"),
    (62, "Gansu", "甘肃省"),
    (63, "Qinghai", "青海省"),
    (64, "Ningxia", "宁夏回族自治区"),
    (65, "Xinjiang", "新疆维吾尔自治区"),
    (71, "Taiwan", "台湾省"),
    (81, "Hong Kong", "香港特别行政区"),
    (82, "Macao", "澳门特别行政区"),
    (83, "Taiwan (residence permit)", "台湾居民居住证"),
    (91, "special code 91", "特殊代码 91"),
];

/// Index + 1 into [`CN_PROVINCES`] for each two-digit code (0 = none).
const CN_PROVINCE_INDEX: [u8; 100] = {
    let mut index = [0u8; 100];
    let mut i = 0;
    while i < CN_PROVINCES.len() {
        index[CN_PROVINCES[i].0 as usize] = i as u8 + 1;
        i += 1;
    }
    index
};

/// The province with GB/T 2260 code `code` (the first two digits).
#[inline]
pub(crate) fn cn_province(code: u8) -> Option<(&'static str, &'static str)> {
    let i = *CN_PROVINCE_INDEX.get(usize::from(code))?;
    let &(_, en, zh) = CN_PROVINCES.get(usize::from(i).checked_sub(1)?)?;
    Some((en, zh))
}

/// The IBAN format of country `cc` (uppercase): country name and BBAN structure.
pub(crate) fn iban_format(cc: [u8; 2]) -> Option<(&'static str, &'static str)> {
    IBAN_FORMATS
        .iter()
        .find(|(c, _, _)| c.as_bytes() == cc)
        .map(|&(_, name, bban)| (name, bban))
}

/// Whether `mcc` is an assigned mobile country code.
pub(crate) fn mcc_known(mcc: u16) -> bool {
    MCCS.binary_search(&mcc).is_ok()
}

/// Whether `cc` (uppercase) is a country a BIC may name.
pub(crate) fn bic_country(cc: [u8; 2]) -> bool {
    BIC_COUNTRIES.iter().any(|c| c.as_bytes() == cc)
}
