//! The CLI's own words (table headers and labels) in English and Simplified
//! Chinese, one row per label. Error sentences are a [`Text`] written next to
//! each error variant (`CliError::text`, `IdError::text`...); summaries and
//! remedies come translated from the daemon. A missing translation is a
//! compile error rather than an English word in a Chinese screen.
//!
//! Verdicts (`OK`, `CRITICAL`...) and reason codes (`tcp.refused`) stay as
//! they are in both languages: they are the stable codes monitoring rules and
//! help-desk scripts match on.

use posdiag_core::{Lang, Text};

macro_rules! labels {
    ($( $variant:ident = $en:literal, $zh:literal; )*) => {
        /// A fixed word or phrase of the CLI.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum Label {
            $( $variant, )*
        }

        impl Label {
            /// Every label, for the test that both languages have all of them.
            pub const ALL: &'static [Label] = &[$(Label::$variant),*];

            /// The label in English and Chinese.
            pub fn text(self) -> Text {
                Text::new(self.get(Lang::En), self.get(Lang::ZhCn))
            }

            /// The label in `lang`.
            pub fn get(self, lang: Lang) -> &'static str {
                match self {
                    $(Label::$variant => match lang { Lang::En => $en, Lang::ZhCn => $zh },)*
                }
            }
        }
    };
}

// One row per label: English, then Simplified Chinese.
labels! {
    Id = "ID", "编号";
    Name = "NAME", "名称";
    VendorModel = "VENDOR/MODEL", "厂商/型号";
    Link = "LINK", "连接";
    Hosts = "HOSTS", "主机";
    Status = "STATUS", "状态";
    LastChecked = "LAST CHECKED", "最近检查";
    Verdict = "VERDICT", "结论";
    Check = "CHECK", "检查项";
    Subject = "SUBJECT", "对象";
    Reason = "REASON", "原因";
    Summary = "SUMMARY", "说明";
    Time = "TIME", "时间";
    Evidence = "evidence", "证据";
    Remedies = "remedies", "处理步骤";
    Overall = "overall", "总体";
    NotChecked = "not checked", "未检查";
    Never = "never", "从未";
    Yes = "yes", "是";
    No = "no", "否";
    Running = "running", "进行中";
    NoTerminals = "no terminals are configured", "没有配置任何终端";
    LastReload = "last configuration reload", "上次配置重新加载";
    NoFindings = "no findings", "没有检查结果";
    Snapshot = "snapshot", "快照";
    Changed = "changed", "变化";
    Days = "days", "天";
    Bytes = "bytes", "字节";
    Findings = "findings", "项结果";
    Kind = "KIND", "类型";
    Description = "DESCRIPTION", "描述";
    Format = "FORMAT", "格式";
    Masked = "MASKED", "脱敏显示";
    Count = "COUNT", "数量";
    Meaning = "MEANING", "含义";
    Total = "total", "总数";
    ValidCount = "valid", "有效";
    InvalidCount = "invalid", "无效";
    Expected = "expected", "应为";
    LooksLike = "looks like", "看起来像";
    Notes = "notes", "备注";
    Suggestion = "suggestion", "建议";
    Message = "MESSAGE", "信息";
    Value = "VALUE", "值";
    FirstRow = "FIRST ROW", "首次出现的行";
    EmptyValue = "(empty)", "（空）";
    File = "file", "文件";
    Column = "column", "列";
    Examples = "examples", "示例";
    ListSeparator = "; ", "；";
    Path = "PATH", "路径";
    Device = "DEVICE", "设备";
    HeldBy = "HELD BY", "占用进程";
    Terminals = "TERMINALS", "终端";
    NoPorts = "no serial ports found", "未发现串口";
    LinkChanged = "link", "连接";
    PortGone = "port gone", "端口已消失";
    PortFree = "free", "空闲";
    PortHeldUnknown = "unknown (other users' processes not readable)", "未知（无法读取其他用户的进程）";
    Added = "added", "新增";
    Removed = "removed", "移除";
    PortKindUsb = "usb", "USB";
    PortKindUart = "uart", "串口";
    PortKindPty = "pty", "伪终端";
    PortKindOther = "other", "其他";
    Version = "VERSION", "版本";
    Crashes = "CRASHES", "崩溃次数";
    Checks = "CHECKS", "检查项";
    NoPlugins = "no plugins found", "未发现插件";
    PluginStarting = "starting", "启动中";
    PluginReady = "ready", "就绪";
    PluginRestarting = "restarting", "重启中";
    PluginQuarantined = "quarantined", "已隔离";
    PluginFailed = "failed", "加载失败";
    PluginRefused = "refused", "已拒绝";
    Symptom = "symptom", "症状";
    SymptomMatched = "matched", "匹配内容";
    SymptomNext = "diagnose with: posdiag doctor TERMINAL --symptom", "诊断方法：posdiag doctor 终端 --symptom";
    Diagnosis = "diagnosis", "诊断";
    Why = "why", "原因";
    RuledOut = "ruled out", "已排除";
    Skipped = "skipped", "已跳过";
    NearestCodes = "Nearest known codes:", "相近的代码：";
    CodeCategory = "category", "类别";
    CodeRetry = "retry", "重试";
    CodeCauses = "likely causes", "可能原因";
    CodeWhatToDo = "what to do", "处理步骤";
    CodeReadAs = "read as", "读法";
    CodeSource = "source", "来源";
    EmvUnknownTag = "(tag not known to posdiag)", "（posdiag 不认识的标签）";
    EmvCauses = "Causes, most likely first:", "原因（最可能的在前）：";
    EmvNothingWrong = "The EMV data shows no problem.", "EMV 数据未显示问题。";
    EmvConfirmHost = "confirm with: posdiag doctor TERMINAL --symptom card-declined (runs the host checks)", "确认方法：posdiag doctor 终端 --symptom card-declined（运行主机检查）";
    EmvConfirmReader = "confirm with: posdiag doctor TERMINAL --symptom card-unreadable (runs the reader checks)", "确认方法：posdiag doctor 终端 --symptom card-unreadable（运行读卡器检查）";
    EmvEvidence = "evidence", "依据";
    EmvReceiptRead = "Read from the receipt (line, value, as printed):", "从小票读到（行号、值、原文）：";
    EmvReceiptNotUsed = "not used", "未使用";
    RetryYes = "a retry can help", "重试可能有效";
    RetryNo = "retrying will not help", "重试无效";
    RetryLater = "retry later", "稍后重试";
    RetryUnknown = "unknown", "未知";
    Terminal = "TERMINAL", "终端";
    Change = "CHANGE", "变化";
    Event = "EVENT", "事件";
    Detail = "DETAIL", "详情";
    WholeTerminal = "terminal", "终端整体";
    NoStatusChanges = "no status changes", "没有状态变化";
    NoEvents = "no events", "没有事件";
    MoreInHistory = "the history holds more: raise --limit, or narrow it with --since, --check or --verdict", "历史中还有更多记录：可调大 --limit，或用 --since、--check、--verdict 缩小范围";
    HistoryInMemory = "posdiagd keeps no history file ([history] enabled = false): these are the findings it holds in memory", "posdiagd 未启用历史文件（[history] enabled = false）：以下是其内存中保留的检查结果";
    EventRun = "run", "检查运行";
    EventPluginFault = "plugin", "插件";
    EventLink = "port", "端口";
    EventReload = "reload", "重新加载";
    EventApiCall = "API call", "API 调用";
    Principal = "PRINCIPAL", "调用方";
    Method = "METHOD", "方法";
    Target = "TARGET", "对象";
    Decision = "DECISION", "决定";
    StatusCode = "STATUS", "状态";
    Took = "TOOK", "耗时";
    NoAuditRows = "no audit rows", "没有审计记录";
    TlsHandshake = "(TLS handshake)", "（TLS 握手）";
    DecisionAllowed = "allowed", "允许";
    DecisionDenied = "denied", "拒绝";
    DecisionWouldDeny = "would deny (audit mode)", "将被拒绝（仅审计模式）";
    DecisionLimited = "limited", "限流";
    MoreAudit = "the audit trail holds more: raise --limit, or narrow it with --since or --principal", "审计记录中还有更多：可调大 --limit，或用 --since、--principal 缩小范围";
    OriginSchedule = "scheduled", "定时";
    OriginOnDemand = "on demand", "按需";
    OriginDoctor = "by the doctor", "诊断程序";
    OriginProbe = "probe", "探测";
    OriginDaemon = "by the daemon", "守护进程";
    AskedBy = "asked by", "请求方";
    PortBack = "port back", "端口已恢复";
    ReloadApplied = "applied", "已应用";
    ReloadRefused = "refused", "被拒绝";
    LikelyCauses = "causes", "可能原因";
    Runs = "RUNS", "运行次数";
    OkShare = "OK %", "正常率";
    Outages = "OUTAGES", "中断次数";
    LongestOutage = "LONGEST", "最长中断";
    Mttr = "MTTR", "平均恢复";
    LastChange = "LAST CHANGE", "最近变化";
    Now = "NOW", "当前";
    NoRun = "no run", "未运行";
    PerHour = "one character per hour", "每个字符代表一小时";
    PerDay = "one character per day", "每个字符代表一天";
    UnitDay = "d", "天";
    UnitHour = "h", "小时";
    UnitMinute = "min", "分钟";
    UnitSecond = "s", "秒";
    History = "history", "历史记录";
}

/// The label in `lang`.
pub fn t(label: Label, lang: Lang) -> &'static str {
    label.get(lang)
}

/// The message of a line too long to be an identifier.
pub fn line_too_long(bytes: u64) -> Text {
    Text::new(
        format!("the line is {bytes} bytes long, far longer than any identifier"),
        format!("该行长 {bytes} 字节，远超任何证件号或编号的长度"),
    )
}

/// How a line too long to show is shown.
pub fn line_too_long_display(bytes: u64) -> Text {
    Text::new(
        format!("({bytes}-byte line)"),
        format!("（{bytes} 字节的行）"),
    )
}

/// What to do about a line too long to be an identifier.
pub fn line_too_long_suggestion() -> Text {
    Text::new(
        "check that the input has one value per line",
        "请检查输入是否每行一个值",
    )
}

/// The line above the availability table: `T1, 2026-11-29 05:00 to
/// 2026-12-06 05:00 (one character per day)`; `per` may be empty.
pub fn availability_heading(terminal: &str, from: &str, to: &str, per: &str) -> Text {
    let (en_per, zh_per) = if per.is_empty() {
        (String::new(), String::new())
    } else {
        (format!(" ({per})"), format!("（{per}）"))
    };
    Text::new(
        format!("{terminal}, {from} to {to}{en_per}"),
        format!("{terminal}，{from} 至 {to}{zh_per}"),
    )
}

/// How long a timeline character stands for when it is neither an hour nor
/// a day.
pub fn per_bucket(span: &str) -> Text {
    Text::new(
        format!("one character per {span}"),
        format!("每个字符代表 {span}"),
    )
}

/// "1 finding", "3 findings".
pub fn findings_count(n: u32) -> Text {
    let plural = if n == 1 { "" } else { "s" };
    Text::new(format!("{n} finding{plural}"), format!("{n} 项结果"))
}

/// What `--export -o FILE` did.
pub fn exported(findings: u64, path: &str) -> Text {
    Text::new(
        format!("{findings} findings written to {path}"),
        format!("已将 {findings} 项结果写入 {path}"),
    )
}

/// `rest` after a separator, or nothing when `rest` is empty.
fn then(sep: &str, rest: &str) -> String {
    if rest.is_empty() {
        String::new()
    } else {
        format!("{sep}{rest}")
    }
}

/// The line above `posdiag terminals` when the history store cannot write:
/// why, how much was lost, and the file.
pub fn history_degraded(detail: &str, unwritten: u64, path: &str) -> Text {
    Text::new(
        format!(
            "history degraded{}: {unwritten} records not stored since start, posdiagd retries by itself{}",
            then(": ", detail),
            then(" — ", path)
        ),
        format!(
            "历史记录已降级{}：自启动以来 {unwritten} 条记录未能保存，posdiagd 会自动重试{}",
            then("：", detail),
            then(" — ", path)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_label_in_the_table_has_an_empty_language() {
        assert!(Label::ALL.len() > 50);
        for &l in Label::ALL {
            let text = l.text();
            assert!(!text.en.is_empty(), "{l:?} has no English");
            assert!(!text.zh.is_empty(), "{l:?} has no Chinese");
            assert_eq!(t(l, Lang::En), text.en);
            assert_eq!(t(l, Lang::ZhCn), text.zh);
            assert_ne!(text.en, text.zh, "{l:?} is not translated");
        }
    }
}
