//! The simulated store, written once: the daemon configuration of its
//! terminals and acquirer hosts ([`Terminal`], [`Host`], [`plugins`]), the
//! simulators behind them ([`Store`]) and the reference plugin bundles they
//! need ([`assemble`]). The demo shows it; the end-to-end tests
//! (`tests/tests/faults.rs`) and benchmarks (`tests/benches/doctor.rs`)
//! build their daemons' configurations from the same pieces.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use posdiag_core::{Lang, Text};
use posdiag_sim::host::{self, Answer, HostSimConfig, RunningHost};
use posdiag_sim::iso8583::{HostState, IsoHost, IsoScenario};
use posdiag_sim::nexo::{self, NexoSimConfig, RunningNexo};
use posdiag_sim::zvt::{self, Card, RunningZvt, ZvtSimConfig, ZvtTransport};

/// A TOML string (quoted and escaped).
fn s(v: &str) -> String {
    toml::Value::String(v.to_owned()).to_string()
}

/// `[plugins] dir = DIR`: the bundles the daemon loads.
pub fn plugins(dir: &Path) -> String {
    format!("\n[plugins]\ndir = {}\n", s(&dir.display().to_string()))
}

/// `[rules.customer]`: the store's customer numbers, 12 digits.
pub const CUSTOMER_RULES: &str = "\n[rules.customer]\ndescription = \"customer numbers: 12 digits\"\nmin_length = 12\nmax_length = 12\ncharset = \"digits\"\n";

/// A `[[terminals]]` entry. Start from a constructor for the kind of
/// terminal, then set what differs.
#[derive(Debug, Clone, Default)]
pub struct Terminal {
    /// `id`.
    pub id: String,
    /// `name`.
    pub name: Option<String>,
    /// `vendor`.
    pub vendor: Option<String>,
    /// `model`.
    pub model: Option<String>,
    /// `link` (`serial:PATH`, `tcp:HOST:PORT`).
    pub link: Option<String>,
    /// `serial` line settings.
    pub serial: Option<String>,
    /// `protocol`.
    pub protocol: Option<String>,
    /// `plugin`.
    pub plugin: Option<String>,
    /// `plugin_args`.
    pub plugin_args: Vec<(String, String)>,
    /// `hosts`.
    pub hosts: Vec<String>,
    /// `id_rules`.
    pub id_rules: Option<String>,
    /// `dialect`.
    pub dialect: Option<String>,
}

impl Terminal {
    /// A terminal that only uses acquirer hosts.
    pub fn new(id: &str) -> Terminal {
        Terminal {
            id: id.to_owned(),
            ..Terminal::default()
        }
    }

    /// A ZVT terminal on a serial line (a simulator's pseudo-terminal).
    pub fn zvt_serial(id: &str, port: &Path) -> Terminal {
        Terminal {
            link: Some(format!("serial:{}", port.display())),
            ..Terminal::new(id)
        }
    }

    /// A ZVT terminal over TCP.
    pub fn zvt_tcp(id: &str, addr: SocketAddr) -> Terminal {
        Terminal {
            link: Some(format!("tcp:{addr}")),
            ..Terminal::new(id)
        }
    }

    /// A nexo terminal over TCP, served by `posdiag.nexo`.
    pub fn nexo(id: &str, addr: SocketAddr) -> Terminal {
        Terminal {
            link: Some(format!("tcp:{addr}")),
            protocol: Some("nexo".into()),
            plugin: Some("posdiag.nexo".into()),
            ..Terminal::new(id)
        }
    }

    /// Sets `name`.
    pub fn name(mut self, name: &str) -> Terminal {
        self.name = Some(name.into());
        self
    }

    /// Sets `vendor`.
    pub fn vendor(mut self, vendor: &str) -> Terminal {
        self.vendor = Some(vendor.into());
        self
    }

    /// Sets `model`.
    pub fn model(mut self, model: &str) -> Terminal {
        self.model = Some(model.into());
        self
    }

    /// Sets `serial` (for example `9600-8N2`).
    pub fn serial(mut self, settings: &str) -> Terminal {
        self.serial = Some(settings.into());
        self
    }

    /// Sets `plugin`.
    pub fn plugin(mut self, id: &str) -> Terminal {
        self.plugin = Some(id.into());
        self
    }

    /// Adds a `plugin_args` entry.
    pub fn plugin_arg(mut self, key: &str, value: &str) -> Terminal {
        self.plugin_args.push((key.into(), value.into()));
        self
    }

    /// Adds an acquirer host by name.
    pub fn host(mut self, name: &str) -> Terminal {
        self.hosts.push(name.into());
        self
    }

    /// Sets `id_rules`.
    pub fn id_rules(mut self, rules: &str) -> Terminal {
        self.id_rules = Some(rules.into());
        self
    }

    /// Sets `dialect`.
    pub fn dialect(mut self, dialect: &str) -> Terminal {
        self.dialect = Some(dialect.into());
        self
    }
}

impl fmt::Display for Terminal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\n[[terminals]]\nid = {}", s(&self.id))?;
        for (key, value) in [
            ("name", &self.name),
            ("vendor", &self.vendor),
            ("model", &self.model),
            ("link", &self.link),
            ("serial", &self.serial),
            ("protocol", &self.protocol),
            ("plugin", &self.plugin),
            ("id_rules", &self.id_rules),
            ("dialect", &self.dialect),
        ] {
            if let Some(v) = value {
                writeln!(f, "{key} = {}", s(v))?;
            }
        }
        if !self.plugin_args.is_empty() {
            let args: Vec<String> = self
                .plugin_args
                .iter()
                .map(|(k, v)| format!("{} = {}", s(k), s(v)))
                .collect();
            writeln!(f, "plugin_args = {{ {} }}", args.join(", "))?;
        }
        if !self.hosts.is_empty() {
            let hosts: Vec<String> = self.hosts.iter().map(|h| s(h)).collect();
            writeln!(f, "hosts = [{}]", hosts.join(", "))?;
        }
        Ok(())
    }
}

/// A `[hosts.NAME]` table: an acquirer host.
#[derive(Debug, Clone, Default)]
pub struct Host {
    /// The table's name.
    pub name: String,
    /// `address`.
    pub address: String,
    /// `port`.
    pub port: u16,
    /// `tls.ca_file`, when the host speaks TLS.
    pub ca_file: Option<String>,
    /// `exchange.send` and `exchange.expect`.
    pub exchange: Option<(String, String)>,
    /// `iso8583.dialect` and `iso8583.count`: the acquirer echo.
    pub iso8583: Option<(String, u32)>,
}

impl Host {
    /// A host at `address:port`.
    pub fn new(name: &str, address: &str, port: u16) -> Host {
        Host {
            name: name.into(),
            address: address.into(),
            port,
            ..Host::default()
        }
    }

    /// An acquirer answering ISO 8583 echoes in `dialect`, `count` per check.
    pub fn iso8583(name: &str, addr: SocketAddr, dialect: &str, count: u32) -> Host {
        Host {
            iso8583: Some((dialect.into(), count)),
            ..Host::new(name, &addr.ip().to_string(), addr.port())
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.name;
        writeln!(
            f,
            "\n[hosts.{name}]\naddress = {}\nport = {}",
            s(&self.address),
            self.port
        )?;
        if let Some(ca) = &self.ca_file {
            writeln!(f, "[hosts.{name}.tls]\nca_file = {}", s(ca))?;
        }
        if let Some((send, expect)) = &self.exchange {
            writeln!(
                f,
                "[hosts.{name}.exchange]\nsend = {}\nexpect = {}",
                s(send),
                s(expect)
            )?;
        }
        if let Some((dialect, count)) = &self.iso8583 {
            writeln!(
                f,
                "[hosts.{name}.iso8583]\ndialect = {}\ncount = {count}",
                s(dialect)
            )?;
        }
        Ok(())
    }
}

/// `sh plugins/assemble.sh [--release] OUT` in the source tree this crate
/// was built from: the reference and example bundles a daemon can load.
/// `Ok(false)` when there is no source tree here (an installed binary).
pub fn assemble(out: &Path, release: bool) -> std::io::Result<bool> {
    let root = source_tree();
    let script = root.join("plugins/assemble.sh");
    if !script.is_file() {
        return Ok(false);
    }
    let mut cmd = std::process::Command::new("sh");
    cmd.arg(&script);
    if release {
        cmd.arg("--release");
    }
    let status = cmd
        .arg(out)
        .current_dir(&root)
        .stdout(std::process::Stdio::null())
        .status()?;
    if status.success() {
        Ok(true)
    } else {
        Err(std::io::Error::other(format!(
            "plugins/assemble.sh failed ({status})"
        )))
    }
}

/// The workspace this crate was built from.
fn source_tree() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A situation of the store and the doctor run that diagnoses it.
#[derive(Debug, Clone)]
pub struct Situation {
    /// The terminal.
    pub terminal: &'static str,
    /// `--symptom`.
    pub symptom: Option<&'static str>,
    /// `--id`.
    pub id: Option<&'static str>,
    /// What the situation is.
    pub title: Text,
}

/// The store, running: ZVT terminals on a serial line and over TCP (a dead
/// card reader, a card whose stripe cannot be read), a nexo terminal, and an
/// acquirer in its end-of-day window, served by the reference plugins.
#[derive(Debug)]
pub struct Store {
    /// The daemon configuration of the store's terminals, host and rule set.
    pub config: String,
    /// The situations, in the order the demo shows them.
    pub situations: Vec<Situation>,
    zvt: Vec<RunningZvt>,
    hosts: Vec<RunningHost>,
    nexo: Vec<RunningNexo>,
}

impl Store {
    /// Starts the simulators (pseudo-terminals under `dir`) and writes the
    /// configuration for bundles in `plugins`, terminal names in `lang`.
    pub async fn start(plugins_dir: &Path, dir: &Path, lang: Lang) -> anyhow::Result<Store> {
        let mut config = plugins(plugins_dir);
        config.push_str(CUSTOMER_RULES);
        // The acquirer in its end-of-day window.
        let iso = IsoHost::named(
            "ascii",
            IsoScenario {
                state: HostState::Cutover,
                ..IsoScenario::default()
            },
        )?;
        let eod = host::start(HostSimConfig {
            answer: Answer::Iso8583(iso),
            ..HostSimConfig::default()
        })
        .await
        .context("starting the simulated ISO 8583 acquirer")?;
        config.push_str(&Host::iso8583("acquirer-eod", eod.addr(), "ascii", 2).to_string());
        let mut zvts = Vec::new();
        // ZVT terminals on TCP: a dead card reader, and a card whose stripe cannot be read.
        let mut zvt_tcp = |status: u8, card: Card| -> anyhow::Result<SocketAddr> {
            let sim =
                zvt::start(ZvtSimConfig::default()).context("starting a simulated ZVT terminal")?;
            sim.update(|s| {
                s.identity.status = status;
                s.reader.card = card;
            });
            let addr = sim
                .local_addr()
                .context("the ZVT simulator has no address")?;
            zvts.push(sim);
            Ok(addr)
        };
        let reader_dead = zvt_tcp(0xE2, Card::Defective)?;
        let stripe = zvt_tcp(0x00, Card::StripeUnreadable)?;
        let pty = dir.join("zvt-T8");
        let healthy = zvt::start(ZvtSimConfig {
            transport: ZvtTransport::Pty {
                link: Some(pty.clone()),
            },
            ..ZvtSimConfig::default()
        })
        .context("starting a simulated ZVT terminal on a pty")?;
        zvts.push(healthy);
        let nexo = nexo::start(NexoSimConfig::default())
            .await
            .context("starting the simulated nexo terminal")?;
        let terminals = [
            Terminal::zvt_serial("T8", &pty)
                .name(
                    Text::new(
                        "Checkout 8 (ZVT terminal, serial, healthy)",
                        "收银台 8（ZVT 串口终端，正常）",
                    )
                    .get(lang),
                )
                .model("Move/5000")
                .host("acquirer-ok")
                .id_rules("customer"),
            Terminal::zvt_tcp("T9", reader_dead)
                .name(
                    Text::new("Checkout 9 (ZVT terminal, TCP)", "收银台 9（ZVT 网络终端）")
                        .get(lang),
                )
                .model("Move/5000")
                .dialect("zvt-result"),
            Terminal::zvt_tcp("T10", stripe)
                .name(
                    Text::new(
                        "Checkout 10 (ZVT terminal, TCP)",
                        "收银台 10（ZVT 网络终端）",
                    )
                    .get(lang),
                )
                .model("Move/5000")
                .dialect("zvt-result"),
            Terminal::nexo("T11", nexo.addr())
                .name(Text::new("Checkout 11 (nexo terminal)", "收银台 11（nexo 终端）").get(lang))
                .model("V400m")
                .plugin_arg("tls", "false"),
            Terminal::new("T12")
                .name(Text::new("Checkout 12 (bank end of day)", "收银台 12（银行日切）").get(lang))
                .host("acquirer-eod")
                .dialect("iso8583-1987"),
        ];
        for t in terminals {
            config.push_str(&t.vendor("Simulated").to_string());
        }
        Ok(Store {
            config,
            situations: situations(),
            zvt: zvts,
            hosts: vec![eod],
            nexo: vec![nexo],
        })
    }

    /// Stops the simulators.
    pub async fn shutdown(self) {
        for h in self.hosts {
            h.shutdown().await;
        }
        drop(self.zvt);
        for n in self.nexo {
            n.shutdown().await;
        }
    }
}

fn situations() -> Vec<Situation> {
    vec![
        Situation {
            terminal: "T8",
            symptom: None,
            id: None,
            title: Text::new("healthy: a full check-up", "正常：全面检查"),
        },
        Situation {
            terminal: "T9",
            symptom: None,
            id: None,
            title: Text::new("card reader defective", "读卡器故障"),
        },
        Situation {
            terminal: "T12",
            symptom: Some("90"),
            id: None,
            title: Text::new("the bank's end-of-day window", "银行日切时段"),
        },
        Situation {
            terminal: "T10",
            symptom: Some("64"),
            id: None,
            title: Text::new("card stripe unreadable", "卡片磁条无法读取"),
        },
        Situation {
            terminal: "T11",
            symptom: None,
            id: None,
            title: Text::new("a nexo terminal's own diagnosis", "nexo 终端自身的诊断"),
        },
        Situation {
            terminal: "T8",
            symptom: Some("unsupported-id"),
            id: Some("13812345678"),
            title: Text::new(
                "\"unsupported customer ID\": a phone number was typed",
                "“不支持的客户ID”：输入的是手机号",
            ),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminals_and_hosts_are_written_as_toml_tables() {
        let t = Terminal::nexo("T11", "127.0.0.1:8443".parse().expect("addr"))
            .name("Checkout \"11\"")
            .plugin_arg("tls", "false")
            .host("a");
        let h = Host::iso8583("a", "127.0.0.1:5000".parse().expect("addr"), "ascii", 2);
        let text = format!("{h}{t}");
        let v: toml::Table = text.parse().expect("valid TOML");
        let t = &v["terminals"][0];
        assert_eq!(t["name"].as_str(), Some("Checkout \"11\""));
        assert_eq!(t["link"].as_str(), Some("tcp:127.0.0.1:8443"));
        assert_eq!(t["plugin"].as_str(), Some("posdiag.nexo"));
        assert_eq!(t["plugin_args"]["tls"].as_str(), Some("false"));
        assert_eq!(v["hosts"]["a"]["iso8583"]["count"].as_integer(), Some(2));
        assert_eq!(v["hosts"]["a"]["port"].as_integer(), Some(5000));
    }
}
