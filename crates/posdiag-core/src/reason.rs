//! The closed list of reason codes. A reason is the stable, machine-readable
//! "why" of a finding: monitoring rules and help-desk scripts match on it, so
//! a code is never renamed or reused; new codes are appended.

use std::fmt;
use std::str::FromStr;

use crate::lang::Text;

macro_rules! reasons {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $en:literal, $zh:literal; )*) => {
        /// Why a check reached its verdict.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Reason {
            $( $(#[$doc])* $variant, )*
        }

        impl Reason {
            /// Every reason, in documentation order.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant),*];

            /// The stable code, for example `tcp.refused`.
            pub fn code(self) -> &'static str {
                match self { $(Reason::$variant => $code,)* }
            }

            /// What the code means, in English and Chinese.
            pub fn meaning(self) -> Text {
                match self { $(Reason::$variant => Text::new($en, $zh),)* }
            }
        }

        impl FromStr for Reason {
            type Err = String;
            fn from_str(s: &str) -> Result<Reason, String> {
                match s {
                    $($code => Ok(Reason::$variant),)*
                    _ => Err(format!("unknown reason code {s:?}")),
                }
            }
        }
    };
}

reasons! {
    /// The check passed.
    Ok = "ok", "everything as expected", "一切正常";
    /// The name does not exist in DNS.
    DnsNxdomain = "dns.nxdomain", "the host name does not exist (NXDOMAIN)", "主机名不存在 (NXDOMAIN)";
    /// The name exists but has no address records.
    DnsNoData = "dns.no_data", "the host name has no address records", "主机名没有地址记录";
    /// The DNS server failed to answer (SERVFAIL).
    DnsServfail = "dns.servfail", "the DNS server failed to resolve the name (SERVFAIL)", "DNS 服务器解析失败 (SERVFAIL)";
    /// The DNS server refused the query.
    DnsRefused = "dns.refused", "the DNS server refused the query", "DNS 服务器拒绝了查询";
    /// No DNS answer within the deadline.
    DnsTimeout = "dns.timeout", "no DNS answer within the deadline", "DNS 在时限内没有应答";
    /// Any other resolution failure.
    DnsError = "dns.error", "name resolution failed", "域名解析失败";
    /// Nothing listens on the port (TCP RST on SYN).
    TcpRefused = "tcp.refused", "the host refused the connection: nothing listens on that port", "主机拒绝连接：该端口没有服务在监听";
    /// No TCP handshake within the deadline.
    TcpTimeout = "tcp.timeout", "no answer to the connection attempt within the deadline", "连接在时限内没有应答";
    /// No route to the host or network.
    TcpUnreachable = "tcp.unreachable", "the host or its network is unreachable", "主机或其网络不可达";
    /// The host reset the connection.
    TcpReset = "tcp.reset", "the host reset the connection", "主机重置了连接";
    /// Any other connection failure.
    TcpError = "tcp.error", "the connection failed", "连接失败";
    /// Some connection attempts failed.
    TcpLoss = "tcp.loss", "some connection attempts failed", "部分连接尝试失败";
    /// Connection times are above the threshold.
    TcpLatency = "tcp.latency", "connection times are above the threshold", "连接耗时超过阈值";
    /// Connection times vary more than the threshold.
    TcpJitter = "tcp.jitter", "connection times vary more than the threshold", "连接耗时波动超过阈值";
    /// The server certificate has expired.
    TlsCertExpired = "tls.cert_expired", "the server certificate has expired", "服务器证书已过期";
    /// The server certificate is not valid yet.
    TlsCertNotYetValid = "tls.cert_not_yet_valid", "the server certificate is not valid yet (check the clock)", "服务器证书尚未生效（请检查时钟）";
    /// The server certificate expires within the warning threshold.
    TlsCertExpiring = "tls.cert_expiring", "the server certificate expires soon", "服务器证书即将过期";
    /// The certificate does not name the host.
    TlsHostnameMismatch = "tls.hostname_mismatch", "the certificate is not issued for this host name", "证书不是为该主机名签发的";
    /// The certificate chain does not lead to a trusted root.
    TlsUntrusted = "tls.untrusted", "the certificate is not issued by a trusted authority", "证书不是由受信任的机构签发的";
    /// The certificate is invalid for another reason (revoked, bad signature, wrong usage).
    TlsCertInvalid = "tls.cert_invalid", "the certificate is invalid", "证书无效";
    /// The TLS handshake failed (alert, protocol or cipher mismatch).
    TlsHandshakeFailed = "tls.handshake_failed", "the TLS handshake failed", "TLS 握手失败";
    /// The TLS handshake did not finish within the deadline.
    TlsTimeout = "tls.timeout", "the TLS handshake did not finish within the deadline", "TLS 握手在时限内未完成";
    /// No answer to the application-level exchange within the deadline.
    ExchangeTimeout = "exchange.timeout", "the host accepted the connection but did not answer in time", "主机接受了连接但没有及时应答";
    /// The answer did not start with the expected bytes.
    ExchangeMismatch = "exchange.mismatch", "the host answered something other than expected", "主机的应答与预期不符";
    /// The host closed the connection before answering.
    ExchangeClosed = "exchange.closed", "the host closed the connection without answering", "主机未应答就关闭了连接";
    /// Some application-level exchanges failed.
    ExchangeLoss = "exchange.loss", "some application-level exchanges failed", "部分应用层交互失败";
    /// Answers take longer than the threshold.
    ExchangeLatency = "exchange.latency", "the host answers slower than the threshold", "主机应答耗时超过阈值";
    /// Answer times vary more than the threshold.
    ExchangeJitter = "exchange.jitter", "the host's answer times vary more than the threshold", "主机应答耗时波动超过阈值";
    /// The port or device vanished in the middle of an exchange (cable pulled, USB re-enumerated).
    LinkLost = "link.lost", "the terminal's port disappeared during the exchange (cable pulled or USB device reset)", "终端端口在通信过程中消失（线缆被拔出或 USB 设备重置）";
    /// The configured port does not exist.
    LinkNotFound = "link.not_found", "the terminal's port does not exist (device unplugged or wrong path)", "终端端口不存在（设备未连接或路径错误）";
    /// Another process holds the port.
    LinkBusy = "link.busy", "another program holds the terminal's port", "另一个程序占用了终端端口";
    /// The daemon may not open the port.
    LinkPermission = "link.permission", "posdiag is not allowed to open the terminal's port", "posdiag 无权打开终端端口";
    /// The terminal did not answer within the deadline.
    LinkNoAnswer = "link.no_answer", "the terminal did not answer within the deadline", "终端在时限内没有应答";
    /// Frames arrived with CRC errors and had to be repeated.
    LinkCrcErrors = "link.crc_errors", "frames from the terminal arrived corrupted (CRC errors)", "终端发来的帧已损坏（CRC 错误）";
    /// The terminal rejected frames (NAK) and they had to be repeated.
    LinkNaks = "link.naks", "the terminal rejected frames (NAK) and they were repeated", "终端拒收了数据帧（NAK），需要重发";
    /// The terminal answered with bytes that are not valid protocol.
    LinkProtocol = "link.protocol", "the terminal answered with something that is not valid protocol", "终端的应答不符合协议";
    /// The terminal's answers are slower than the threshold.
    LinkLatency = "link.latency", "the terminal answers slower than the threshold", "终端应答耗时超过阈值";
    /// Any other link failure.
    LinkError = "link.error", "the link to the terminal failed", "与终端的连接失败";
    /// The terminal reports a state in which it cannot take payments (initialisation, activation, out of order…).
    TerminalNotReady = "terminal.not_ready", "the terminal reports a state in which it cannot take payments", "终端报告的状态无法进行交易";
    /// The terminal needs attention soon (printer, memory, reconciliation) but can still take payments.
    TerminalAttention = "terminal.attention", "the terminal needs attention (printer, memory, end of day)", "终端需要处理（打印机、存储、日结）";
    /// The terminal's software is older than the configured minimum.
    TerminalSoftwareOutdated = "terminal.software_outdated", "the terminal's software is older than the required minimum", "终端软件版本低于要求的最低版本";
    /// The terminal is busy or in maintenance.
    TerminalBusy = "terminal.busy", "the terminal is busy or in maintenance", "终端忙或正在维护";
    /// The card reader is defective or does not answer.
    ReaderDefective = "reader.defective", "the card reader is defective or does not answer", "读卡器故障或无响应";
    /// The magnetic stripe could not be read (LRC/parity error).
    ReaderStripeUnreadable = "reader.stripe_unreadable", "the card's magnetic stripe could not be read (LRC/parity error)", "无法读取卡片磁条（LRC/奇偶校验错误）";
    /// Neither track data nor a chip was found.
    ReaderNoCardData = "reader.no_card_data", "no card data was found (no track data, no chip)", "未读到卡片数据（无磁道数据、无芯片）";
    /// The chip could not be read.
    ReaderChipError = "reader.chip_error", "the card's chip could not be read", "无法读取卡片芯片";
    /// The chip failed and falling back to the stripe is not allowed.
    ReaderFallbackNotAllowed = "reader.fallback_not_allowed", "the chip failed and fallback to the magnetic stripe is not allowed", "芯片读取失败且不允许降级使用磁条";
    /// The card is unknown to the terminal or expired.
    ReaderCardRejected = "reader.card_rejected", "the terminal does not accept this card (unknown, expired or not yet valid)", "终端不接受此卡（未知、过期或尚未生效）";
    /// The payment method is not supported.
    ReaderMethodNotSupported = "reader.method_not_supported", "the payment method of this card is not supported", "不支持此卡的支付方式";
    /// No card was presented in time.
    ReaderNoCard = "reader.no_card", "no card was presented in time", "未在规定时间内出示卡片";
    /// The terminal cannot reach its own host (terminal-side diagnosis).
    HostUnreachable = "host.unreachable", "the terminal cannot reach its payment host", "终端无法连接其支付主机";
    /// The host answered, but with an error.
    HostError = "host.error", "the payment host answered with an error", "支付主机返回了错误";
    /// The acquirer answered the echo with a response code other than approved.
    EchoResponseCode = "echo.response_code", "the acquirer answered the echo test with an error code", "收单机构对回响测试返回了错误码";
    /// The acquirer is in its end-of-day (cutover) window.
    EchoCutover = "echo.cutover", "the acquirer is in its end-of-day (cutover) window", "收单机构正处于日切时段";
    /// No answer to the echo within the deadline.
    EchoTimeout = "echo.timeout", "the acquirer did not answer the echo test in time", "收单机构未及时应答回响测试";
    /// Some echoes went unanswered.
    EchoLoss = "echo.loss", "some echo tests went unanswered", "部分回响测试未得到应答";
    /// Echo round trips above the threshold.
    EchoLatency = "echo.latency", "the acquirer answers echo tests slower than the threshold", "收单机构应答回响测试慢于阈值";
    /// The answer does not match the request (MTI, trace number, format).
    EchoMismatch = "echo.mismatch", "the acquirer's answer does not match the echo request", "收单机构的应答与回响请求不符";
    /// The terminal reports a global status other than OK (nexo).
    PoiStatus = "poi.status", "the terminal reports a status other than OK", "终端报告的状态不是正常";
    /// A component the terminal reports is not OK (nexo flags).
    PoiComponent = "poi.component", "a component of the terminal reports a fault", "终端的某个部件报告故障";
    /// The printer is not OK.
    PrinterFault = "printer.fault", "the receipt printer needs attention", "收据打印机需要处理";
    /// The customer behind a valid ID is not registered where the terminal looks it up (a
    /// plugin's `customer.status`).
    CustomerUnknown = "customer.unknown", "the customer ID is valid but not registered", "客户ID格式有效，但未登记";
    /// The customer behind the ID is blocked, closed or not allowed at this merchant.
    CustomerBlocked = "customer.blocked", "the customer's account is blocked or not allowed here", "该客户账户已被冻结或不允许在此使用";
    /// The plugin's host process crashed (panic, segfault, abort, out of memory) during the check.
    PluginCrashed = "plugin.crashed", "the vendor plugin crashed during the check", "厂商插件在检查过程中崩溃";
    /// The plugin did not finish within the deadline and was stopped.
    PluginTimeout = "plugin.timeout", "the vendor plugin did not finish in time and was stopped", "厂商插件未在时限内完成，已被终止";
    /// The plugin answered something that is not valid protocol (bad protobuf, oversized answer).
    PluginProtocol = "plugin.protocol", "the vendor plugin returned an invalid answer", "厂商插件返回了无效的应答";
    /// The plugin's library cannot be used by this posdiag (wrong ABI, missing symbol, does not load).
    PluginIncompatible = "plugin.incompatible", "the vendor plugin cannot be loaded by this posdiag", "此 posdiag 无法加载该厂商插件";
    /// The plugin kept crashing and is no longer started.
    PluginQuarantined = "plugin.quarantined", "the vendor plugin kept crashing and was quarantined", "厂商插件反复崩溃，已被隔离";
    /// The plugin returned an error code instead of a result (no link, unsupported check…).
    PluginFailed = "plugin.failed", "the vendor plugin could not run the check", "厂商插件无法执行该检查";
    /// A vendor-specific reason a plugin reported (its code is in the evidence `vendor_reason`).
    VendorSpecific = "vendor", "a vendor-specific reason reported by the plugin", "插件报告的厂商特定原因";
    /// The check was not run because a check it depends on failed.
    CheckSkipped = "check.skipped", "not run because an earlier step failed", "因前一步失败而未执行";
    /// The check was cancelled (daemon shutting down).
    CheckCancelled = "check.cancelled", "the check was cancelled", "检查已取消";
    /// The check failed inside posdiag.
    InternalError = "internal.error", "the check failed inside posdiag", "posdiag 内部检查出错";
    /// The history file was damaged; it was moved aside and a fresh one started.
    HistoryCorrupt = "history.corrupt", "the history file was damaged and moved aside", "历史记录文件已损坏，已移到一旁";
    /// The history file was written by a newer posdiag and is left untouched.
    HistoryNewer = "history.newer", "the history file is from a newer posdiag", "历史记录文件来自更新版本的 posdiag";
    /// The history file cannot be written now (disk full, read-only, locked).
    HistoryDegraded = "history.degraded", "findings cannot be stored in the history now", "目前无法将检查结果写入历史记录";
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_round_trip_and_are_documented_in_both_languages() {
        let mut seen = std::collections::HashSet::new();
        for r in Reason::ALL {
            assert!(seen.insert(r.code()), "duplicate code {}", r.code());
            assert_eq!(r.code().parse::<Reason>(), Ok(*r));
            let m = r.meaning();
            assert!(
                !m.en.is_empty() && !m.zh.is_empty(),
                "{} lacks a meaning",
                r.code()
            );
        }
        assert!("tcp.nope".parse::<Reason>().is_err());
    }
}
