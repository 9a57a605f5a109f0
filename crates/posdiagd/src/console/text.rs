//! The console's own words in English and Simplified Chinese, one row per
//! label (as the CLI's `labels!`): a missing translation is a compile error,
//! not an English word on a Chinese page. Summaries, remedies and causes come
//! translated from the services; reason codes and check ids stay as small
//! print for the help desk.

use posdiag_core::{Lang, Text};
use posdiag_proto::v1 as pb;

macro_rules! labels {
    ($( $variant:ident = $en:literal, $zh:literal; )*) => {
        /// A fixed word or phrase of the console.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum L {
            $( $variant, )*
        }

        impl L {
            /// Every label, for the test that both languages have all of them.
            #[cfg(test)]
            pub const ALL: &'static [L] = &[$(L::$variant),*];

            /// The label in `lang`.
            pub fn get(self, lang: Lang) -> &'static str {
                match self {
                    $(L::$variant => match lang { Lang::En => $en, Lang::ZhCn => $zh },)*
                }
            }
        }
    };
}

labels! {
    Title = "posdiag — the store's terminals", "posdiag — 门店终端";
    Overview = "Overview", "总览";
    Doctor = "What do you see?", "遇到了什么问题？";
    Tools = "Tools", "工具";
    Login = "Log in", "登录";
    Logout = "Log out", "退出登录";
    SkipToContent = "Skip to the content", "跳到正文";
    Language = "Language", "语言";
    Terminal = "Terminal", "终端";
    Host = "Host", "主机";
    Status = "Status", "状态";
    Since = "Since", "自";
    Reason = "What is wrong", "原因";
    LastCheck = "Last check", "最近检查";
    Today = "Last 24 h", "近 24 小时";
    SevenDays = "7 days", "7 天";
    NotYet = "not checked yet", "尚未检查";
    Unknown = "unknown", "未知";
    Live = "Updates live.", "实时更新。";
    ConnectionLost = "The connection to posdiagd was lost. Reconnecting…", "与 posdiagd 的连接已断开，正在重新连接…";
    TerminalsAndHosts = "Terminals and their hosts", "终端及其主机";
    Checks = "Checks", "检查项";
    RunNow = "Run now", "立即运行";
    RunAll = "Run all checks now", "立即运行全部检查";
    Timeline = "Timeline", "时间线";
    NoEvents = "Nothing recorded yet.", "尚无记录。";
    LinkState = "Connection to the terminal", "与终端的连接";
    Present = "present", "已连接";
    Absent = "not present", "未连接";
    Plugins = "Plugins", "插件";
    Vendor = "Vendor", "厂商";
    Model = "Model", "型号";
    Protocol = "Protocol", "协议";
    WhatHappened = "What happened? Describe it in your own words", "发生了什么？用你自己的话描述";
    SymptomHint = "For example: “unsupported customer ID”, “提示 05”, “card cannot be read”. Leave empty for a full check-up.", "例如：“不支持的客户ID”、“提示 05”、“读不了卡”。留空则做全面检查。";
    IdField = "The customer ID or card number it was about (if any)", "涉及的客户 ID 或卡号（如有）";
    IdHint = "Only needed when the problem is about an ID. It is shown masked.", "仅当问题与 ID 有关时填写。显示时会被遮盖。";
    Diagnose = "Find the cause", "查找原因";
    Progress = "Checking", "正在检查";
    Diagnosis = "Result", "结果";
    Causes = "Most likely causes", "最可能的原因";
    WhoActs = "Who does it", "由谁处理";
    WhatToDo = "What to do", "怎么做";
    RuledOut = "Checked and fine", "已检查、正常";
    Skipped = "Not checked (an earlier failure made them moot)", "未检查（之前的故障已说明问题）";
    NoCause = "No fault found.", "没有发现故障。";
    CopyForHelpDesk = "Copy for the help desk", "复制给客服";
    Copy = "Copy", "复制";
    Copied = "Copied.", "已复制。";
    SmallPrint = "For the help desk", "供客服参考";
    CheckId = "Check an ID against a terminal's rules", "按终端规则检查 ID";
    Value = "Value", "值";
    CheckIt = "Check", "检查";
    ExplainCode = "Explain a code", "解释代码";
    Code = "Code", "代码";
    Explain = "Explain", "解释";
    Valid = "Accepted by this terminal's rules.", "符合该终端的规则。";
    Invalid = "Not accepted by this terminal's rules.", "不符合该终端的规则。";
    Expected = "Expected", "应为";
    Suggestion = "Did you mean", "是否应为";
    NoInterpretation = "No table knows this code.", "没有任何代码表收录该代码。";
    Retry = "Retry", "可否重试";
    User = "User name", "用户名";
    Password = "Password or token", "密码或令牌";
    LoginFailed = "The user name or password is wrong.", "用户名或密码错误。";
    TooManyAttempts = "Too many failed logins from this address; wait a minute and try again.", "该地址登录失败次数过多，请一分钟后再试。";
    ShownAs = "Shown as", "显示为";
    Error = "Something went wrong", "出错了";
    Back = "Back to the overview", "返回总览";
    NotFound = "There is no such page.", "没有这个页面。";
    ForeignHost = "This page is not served under that name.", "本页面不以该名称提供服务。";
    CrossSite = "Refused: the request did not come from this console's own page (reload the page and try again).", "已拒绝：该请求不是来自本控制台自己的页面（请刷新页面后重试）。";
    ReadOnly = "Your login may look but not run checks.", "你的账号只能查看，不能运行检查。";
    Started = "Started", "已开始";
    Explained = "What the symptom means", "症状的含义";
}

/// A verdict in words.
pub fn verdict(v: i32, lang: Lang) -> String {
    let t = match pb::Verdict::try_from(v).unwrap_or(pb::Verdict::Unspecified) {
        pb::Verdict::Ok => ("OK", "正常"),
        pb::Verdict::Warning => ("Warning", "警告"),
        pb::Verdict::Critical => ("Not working", "故障"),
        pb::Verdict::Error => ("Check failed", "检查失败"),
        pb::Verdict::Unknown | pb::Verdict::Unspecified => ("Unknown", "未知"),
    };
    Text::new(t.0, t.1).get(lang).to_owned()
}

/// A check in words (its id stays as small print), when posdiag knows it.
pub fn check_name(id: &str) -> Option<Text> {
    let (en, zh) = match id {
        "host.dns" => ("Name lookup (DNS)", "域名解析（DNS）"),
        "host.tcp" => ("Connection to the host", "与主机的连接"),
        "host.tls" => ("Secure connection (TLS)", "安全连接（TLS）"),
        "host.exchange" => ("Test message to the host", "向主机发送测试报文"),
        "host.echo" => ("Echo test with the acquirer", "与收单机构的回响测试"),
        "host.terminal_diagnosis" => ("The terminal's own host test", "终端自身的主机测试"),
        "terminal.link" => ("Connection to the terminal", "与终端的连接"),
        "terminal.status" => ("Terminal status", "终端状态"),
        "terminal.software" => ("Terminal software", "终端软件"),
        "reader.status" => ("Card reader", "读卡器"),
        "reader.read_card" => ("Reading a card", "读卡测试"),
        "poi.diagnosis" => ("Terminal self-test", "终端自检"),
        "poi.last_receipt" => ("The last receipt's EMV data", "上一张单据的 EMV 数据"),
        "customer.status" => ("Customer lookup", "客户查询"),
        _ => return None,
    };
    Some(Text::new(en, zh))
}

/// The stable hook of a verdict: `ok`, `warning`, `critical` or `unknown`
/// (an ERROR counts as critical: the terminal cannot be trusted to work).
pub fn verdict_hook(v: i32) -> &'static str {
    match pb::Verdict::try_from(v).unwrap_or(pb::Verdict::Unspecified) {
        pb::Verdict::Ok => "ok",
        pb::Verdict::Warning => "warning",
        pb::Verdict::Critical | pb::Verdict::Error => "critical",
        pb::Verdict::Unknown | pb::Verdict::Unspecified => "unknown",
    }
}

/// Who acts on a remedy, in words people at the counter use.
pub fn actor(a: i32, lang: Lang) -> Text {
    let (en, zh) = match pb::Actor::try_from(a).unwrap_or(pb::Actor::Unspecified) {
        pb::Actor::Merchant => ("The store (owner or its IT)", "门店（店主或门店 IT）"),
        pb::Actor::Cardholder => ("The customer", "顾客"),
        pb::Actor::Acquirer => (
            "The acquirer (the bank or payment provider)",
            "收单机构（银行或支付服务商）",
        ),
        pb::Actor::Issuer => ("The bank that issued the card", "发卡银行"),
        pb::Actor::Vendor => ("The terminal's vendor", "终端厂商"),
        pb::Actor::Unspecified => ("Staff at the counter", "收银员"),
    };
    let _ = lang;
    Text::new(en, zh)
}

/// The language of a request: the remembered switch (cookie `lang`), else
/// the first of Accept-Language's languages posdiag speaks, else English.
pub fn request_lang(cookie: Option<&str>, accept: Option<&str>) -> Lang {
    if let Some(l) = cookie.and_then(|c| c.parse::<Lang>().ok()) {
        return l;
    }
    let Some(accept) = accept else {
        return Lang::En;
    };
    let mut best: Option<(f32, Lang)> = None;
    for part in accept.split(',').take(16) {
        let mut it = part.split(';');
        let tag = it.next().unwrap_or("").trim();
        let q = it
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let lang = tag.parse::<Lang>().ok().or_else(|| {
            let primary = tag.split('-').next().unwrap_or("").to_ascii_lowercase();
            match primary.as_str() {
                "zh" => Some(Lang::ZhCn),
                "en" => Some(Lang::En),
                _ => None,
            }
        });
        if let Some(l) = lang
            && best.is_none_or(|(bq, _)| q > bq)
        {
            best = Some((q, l));
        }
    }
    best.map(|b| b.1).unwrap_or(Lang::En)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_has_both_languages() {
        for l in L::ALL {
            assert!(!l.get(Lang::En).is_empty(), "{l:?}");
            let zh = l.get(Lang::ZhCn);
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{l:?} has no Chinese: {zh}"
            );
        }
    }

    #[test]
    fn the_language_comes_from_the_switch_then_accept_language() {
        assert_eq!(request_lang(Some("zh-CN"), Some("en")), Lang::ZhCn);
        assert_eq!(
            request_lang(None, Some("zh-TW,zh;q=0.9,en;q=0.8")),
            Lang::ZhCn
        );
        assert_eq!(
            request_lang(None, Some("de-DE,en;q=0.5,zh;q=0.4")),
            Lang::En
        );
        assert_eq!(request_lang(None, Some("fr")), Lang::En);
        assert_eq!(request_lang(Some("klingon"), None), Lang::En);
    }
}
