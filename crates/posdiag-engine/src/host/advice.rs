//! What to do about each reason a host check can give, ordered the way a
//! field engineer works: the merchant's side first, then the acquirer.

use posdiag_core::{Actor, Reason, Remedy};

/// Ordered remedies for `reason` on the host called `host` (`name (addr:port)`).
pub(crate) fn remedies(reason: Reason, host: &str) -> Vec<Remedy> {
    use Actor::*;
    use Reason::*;
    fn r(actor: Actor, en: impl Into<String>, zh: impl Into<String>) -> Remedy {
        Remedy::new(actor, en, zh)
    }
    match reason {
        DnsNxdomain => vec![
            r(
                Merchant,
                format!(
                    "Check the host name of {host} in the terminal and posdiag configuration for typos"
                ),
                format!("检查终端和 posdiag 配置中 {host} 的主机名是否拼写错误"),
            ),
            r(
                Acquirer,
                "Ask the acquirer for the current host name: it may have been retired or renamed",
                "向收单机构确认当前的主机名：旧主机名可能已停用或更改",
            ),
        ],
        DnsNoData => vec![r(
            Acquirer,
            format!(
                "The name of {host} exists but has no address: ask the acquirer to publish its DNS records"
            ),
            format!("{host} 的域名存在但没有地址记录：请收单机构检查其 DNS 记录"),
        )],
        DnsServfail | DnsRefused | DnsTimeout | DnsError => vec![
            r(
                Merchant,
                "Check the DNS servers set on the router or the terminal; try another DNS server (for example the operator's)",
                "检查路由器或终端上设置的 DNS 服务器；尝试换用其他 DNS 服务器（例如运营商提供的）",
            ),
            r(
                Merchant,
                "Check that the network connection works at all: other websites or services from the same network",
                "确认网络本身可用：从同一网络访问其他网站或服务",
            ),
        ],
        TcpRefused => vec![
            r(
                Merchant,
                format!(
                    "Check the port of {host} in the terminal configuration: nothing listens on it"
                ),
                format!("检查终端配置中 {host} 的端口：该端口没有服务在监听"),
            ),
            r(
                Acquirer,
                "Ask the acquirer whether the host service is down or in its maintenance window",
                "向收单机构确认主机服务是否宕机或处于维护时段",
            ),
        ],
        TcpTimeout => vec![
            r(
                Merchant,
                format!(
                    "Check the firewall and router: outgoing connections to {host} must be allowed"
                ),
                format!("检查防火墙和路由器：必须允许到 {host} 的出站连接"),
            ),
            r(
                Merchant,
                "Check the network link: cable, Wi-Fi or mobile signal, and whether other services are reachable",
                "检查网络链路：网线、Wi-Fi 或移动信号，以及其他服务是否可达",
            ),
            r(
                Acquirer,
                "If the network is fine, ask the acquirer whether the host is down or filtering your address",
                "若网络正常，向收单机构确认主机是否宕机或屏蔽了本方地址",
            ),
        ],
        TcpUnreachable => vec![r(
            Merchant,
            "The network has no route to the host: check the cable, Wi-Fi or mobile signal, the default gateway and any VPN the terminal needs",
            "网络没有到主机的路由：检查网线、Wi-Fi 或移动信号、默认网关以及终端所需的 VPN",
        )],
        TcpReset | TcpError | ExchangeClosed => vec![
            r(
                Merchant,
                "Retry; if it persists, check for a firewall or proxy between the terminal and the host",
                "重试；若持续出现，检查终端与主机之间是否有防火墙或代理",
            ),
            r(
                Acquirer,
                "Ask the acquirer whether the host drops sessions (overload, maintenance, address not allowed)",
                "向收单机构确认主机是否在断开会话（过载、维护、地址未授权）",
            ),
        ],
        TcpLoss | ExchangeLoss => vec![
            r(
                Merchant,
                "The connection is unstable: check cabling, Wi-Fi or 4G signal strength and the router; transactions may fail intermittently",
                "连接不稳定：检查网线、Wi-Fi 或 4G 信号强度及路由器；交易可能会间歇性失败",
            ),
            r(
                Acquirer,
                "If the network checks out, report the loss to the acquirer with this finding",
                "若网络检查无误，将此结果提供给收单机构并报告丢包",
            ),
        ],
        TcpLatency | TcpJitter | ExchangeLatency | ExchangeJitter => vec![
            r(
                Merchant,
                "The network is slow or uneven: check other traffic on the line, signal strength, and the router's load",
                "网络慢或不稳定：检查线路上的其他流量、信号强度和路由器负载",
            ),
            r(
                Acquirer,
                "If the local network is fine, ask the acquirer whether the host is under load",
                "若本地网络正常，向收单机构确认主机是否负载过高",
            ),
        ],
        TlsCertExpired => vec![
            r(
                Merchant,
                "Check the date and time of the terminal and this machine: a wrong clock makes valid certificates look expired",
                "检查终端和本机的日期时间：时钟错误会使有效证书显示为过期",
            ),
            r(
                Acquirer,
                format!("The certificate of {host} has expired: the acquirer must renew it"),
                format!("{host} 的证书已过期：收单机构必须更新证书"),
            ),
        ],
        TlsCertNotYetValid => vec![r(
            Merchant,
            "Check the date and time of the terminal and this machine: the clock is probably behind",
            "检查终端和本机的日期时间：时钟可能慢了",
        )],
        TlsCertExpiring => vec![r(
            Acquirer,
            format!(
                "The certificate of {host} expires soon: the acquirer should renew it before it does"
            ),
            format!("{host} 的证书即将过期：收单机构应在过期前更新"),
        )],
        TlsHostnameMismatch => vec![
            r(
                Merchant,
                format!(
                    "Check the host name configured for {host}: it must be the name on the certificate, not an IP address or alias"
                ),
                format!("检查 {host} 配置的主机名：必须与证书上的名称一致，而不是 IP 地址或别名"),
            ),
            r(
                Acquirer,
                "Ask the acquirer which host name its certificate is issued for",
                "向收单机构确认其证书签发给哪个主机名",
            ),
        ],
        TlsUntrusted => vec![
            r(
                Merchant,
                "Make sure no proxy or firewall intercepts TLS between the terminal and the host",
                "确认终端与主机之间没有代理或防火墙拦截 TLS",
            ),
            r(
                Vendor,
                "Install the acquirer's CA certificate on the terminal, and set ca_file for this host in posdiag",
                "在终端上安装收单机构的 CA 证书，并在 posdiag 中为该主机设置 ca_file",
            ),
            r(
                Acquirer,
                "Ask the acquirer which CA issues its host certificate",
                "向收单机构确认其主机证书由哪个 CA 签发",
            ),
        ],
        TlsCertInvalid | TlsHandshakeFailed => vec![
            r(
                Vendor,
                "The terminal software may not support the TLS version or ciphers the host requires: update the terminal software",
                "终端软件可能不支持主机要求的 TLS 版本或加密套件：请更新终端软件",
            ),
            r(
                Acquirer,
                "Ask the acquirer for the host's TLS requirements and whether it changed them recently",
                "向收单机构确认主机的 TLS 要求及近期是否有变更",
            ),
        ],
        TlsTimeout => vec![
            r(
                Merchant,
                "Check for a proxy or firewall that holds TLS connections",
                "检查是否有代理或防火墙阻滞 TLS 连接",
            ),
            r(
                Acquirer,
                "The host accepts connections but does not complete the handshake: ask the acquirer whether it is overloaded or in maintenance",
                "主机接受连接但未完成握手：向收单机构确认是否过载或维护中",
            ),
        ],
        ExchangeTimeout => vec![
            r(
                Acquirer,
                "The host accepts connections but its application does not answer: it may be in maintenance or its end-of-day window",
                "主机接受连接但应用未应答：可能处于维护或日终结算时段",
            ),
            r(
                Merchant,
                "Retry later; if it persists, report it to the acquirer with this finding",
                "稍后重试；若持续出现，将此结果提供给收单机构",
            ),
        ],
        ExchangeMismatch => vec![
            r(
                Merchant,
                format!(
                    "Another service seems to answer on {host}: check the host and port configured"
                ),
                format!("{host} 上似乎是其他服务在应答：检查配置的主机和端口"),
            ),
            r(
                Vendor,
                "Check that the configured exchange matches the host's protocol",
                "确认配置的交互报文与主机协议一致",
            ),
        ],
        CheckSkipped | CheckCancelled | Ok => vec![],
        _ => vec![r(
            Vendor,
            "Report this to the posdiag maintainers with the daemon log",
            "请将此问题连同守护进程日志报告给 posdiag 维护者",
        )],
    }
}
