//! What to do about each reason the terminal link check can give, in the
//! order a field engineer works: cable and power first, then the program
//! holding the port, then the vendor.

use posdiag_core::{Actor, Reason, Remedy};

/// Ordered remedies for `reason` on the link described by `link`
/// (for example `serial /dev/ttyUSB0 9600-8N2`).
pub(crate) fn remedies(reason: Reason, link: &str, holder: Option<&str>) -> Vec<Remedy> {
    use Actor::*;
    use Reason::*;
    fn r(actor: Actor, en: impl Into<String>, zh: impl Into<String>) -> Remedy {
        Remedy::new(actor, en, zh)
    }
    match reason {
        LinkLost => vec![
            r(
                Merchant,
                "Check the cable between the till and the terminal: it came loose or was pulled during the exchange; reseat both ends",
                "检查收银机与终端之间的线缆：通信过程中线缆松动或被拔出；重新插紧两端",
            ),
            r(
                Merchant,
                "If the terminal is connected by USB, check its power supply: a terminal that restarts re-enumerates its USB port",
                "若终端通过 USB 连接，检查其电源：终端重启会使 USB 端口重新枚举",
            ),
            r(
                Vendor,
                "If the port keeps disappearing, ask the terminal vendor about the USB cable and firmware",
                "若端口反复消失，请向终端厂商咨询 USB 线缆和固件问题",
            ),
        ],
        LinkNotFound => vec![
            r(
                Merchant,
                format!("Check that the terminal is powered on and plugged in ({link})"),
                format!("确认终端已开机并已连接（{link}）"),
            ),
            r(
                Merchant,
                "Run `posdiag ports` to see which serial ports exist now; if the terminal shows under another name, configure it by USB serial number (link = \"usb:VID:PID:SERIAL\")",
                "运行 `posdiag ports` 查看当前存在的串口；若终端以其他名称出现，请按 USB 序列号配置（link = \"usb:VID:PID:SERIAL\"）",
            ),
        ],
        LinkBusy => vec![r(
            Merchant,
            match holder {
                Some(h) => format!(
                    "Another program holds the port ({h}); close it or stop it before diagnosing, then run the check again"
                ),
                None => "Another program holds the port; close the POS software or the other tool using it, then run the check again".to_owned(),
            },
            match holder {
                Some(h) => format!("另一个程序（{h}）占用了该端口；诊断前请关闭或停止它，然后重新检查"),
                None => "另一个程序占用了该端口；请关闭正在使用它的收银软件或其他工具，然后重新检查".to_owned(),
            },
        )],
        LinkPermission => vec![r(
            Merchant,
            "Give the posdiag service user access to the port: add it to the group that owns the device (usually dialout) and restart posdiagd",
            "为 posdiag 服务用户授予端口访问权限：将其加入设备所属的用户组（通常是 dialout），然后重启 posdiagd",
        )],
        LinkNoAnswer => vec![
            r(
                Merchant,
                "Check that the terminal is switched on and shows its idle screen, not a menu or an error",
                "确认终端已开机并处于待机界面，而不是停留在菜单或错误界面",
            ),
            r(
                Merchant,
                format!(
                    "Check the link settings ({link}): baud rate and framing must match the terminal's ECR interface settings"
                ),
                format!("检查连接设置（{link}）：波特率和帧格式必须与终端的收银接口设置一致"),
            ),
            r(
                Vendor,
                "Check that the terminal's ECR interface (ZVT) is enabled in its configuration",
                "确认终端配置中已启用收银接口（ZVT）",
            ),
        ],
        LinkCrcErrors | LinkNaks => vec![
            r(
                Merchant,
                "Replace or reroute the serial cable: corrupted frames mean a damaged cable, a loose plug or electrical noise nearby",
                "更换串口线或改变走线：帧损坏通常意味着线缆损坏、插头松动或附近有电气干扰",
            ),
            r(
                Merchant,
                "Use a shorter cable or a lower baud rate if the cable is long",
                "若线缆较长，请使用更短的线缆或降低波特率",
            ),
            r(
                Merchant,
                format!(
                    "If every frame arrives corrupted, the line settings differ: check that {link} uses the baud rate, parity and stop bits of the terminal's ECR interface"
                ),
                format!("若所有帧都损坏，说明线路设置不一致：请确认 {link} 的波特率、校验位和停止位与终端收银接口设置一致"),
            ),
        ],
        LinkProtocol => vec![
            r(
                Merchant,
                format!(
                    "Check that the configured protocol and settings ({link}) match the device: another device may be on that port"
                ),
                format!("确认配置的协议和设置（{link}）与设备相符：该端口上可能连接的是其他设备"),
            ),
            r(
                Vendor,
                "Send the transcript in this finding to the terminal vendor",
                "将本结果中的通信记录发送给终端厂商",
            ),
        ],
        LinkLatency => vec![r(
            Vendor,
            "The terminal answers slowly: check whether it is busy (update, end-of-day) and ask the vendor if it persists",
            "终端应答缓慢：检查其是否正忙（更新、日结），若持续存在请咨询厂商",
        )],
        TcpRefused | TcpTimeout | TcpUnreachable | TcpReset | TcpError => vec![
            r(
                Merchant,
                format!(
                    "Check that the terminal is on the network at the configured address ({link}) and that its ECR interface listens on that port"
                ),
                format!("确认终端在配置的地址（{link}）上联网，且其收银接口在该端口监听"),
            ),
            r(
                Merchant,
                "Check the network between the till and the terminal: cable, Wi-Fi, the terminal's IP address (DHCP may have changed it)",
                "检查收银机与终端之间的网络：网线、Wi-Fi、终端的 IP 地址（DHCP 可能已更改）",
            ),
        ],
        _ => vec![r(
            Vendor,
            "Send this finding with its transcript to the terminal vendor",
            "将本结果及其通信记录发送给终端厂商",
        )],
    }
}
