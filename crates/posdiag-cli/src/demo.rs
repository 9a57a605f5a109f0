//! `posdiag demo`: everything posdiag does, with nothing to install. It
//! starts simulated acquirer hosts (healthy, refusing, flaky, stalled, and
//! one with an expired certificate) and simulated ZVT terminals (one on a
//! pseudo-terminal like a serial port, one whose serial line corrupts
//! frames), an in-process posdiagd on a temporary unix socket configured with
//! a terminal per scene, runs `posdiag check` on each terminal through the
//! real gRPC API, and ends with `posdiag doctor` on the one whose acquirer
//! is down.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use posdiag_core::Lang;
use posdiag_sim::host::{self, Answer, Fault, HostSimConfig, RunningHost, TlsMode};
use posdiag_sim::pki::Pki;
use posdiag_sim::zvt::{self, ZvtSimConfig, ZvtTransport};
use posdiagd::{App, Listen};

use crate::cli::CheckArgs;
use crate::commands::{self, Context};
use crate::endpoint::Endpoint;

/// Options of `posdiag demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Keep the simulators and the daemon running after the demo, until Ctrl-C.
    #[arg(long)]
    pub keep_running: bool,
    /// Plugin bundles to use (default: assemble the reference plugins with
    /// plugins/assemble.sh when run from the source tree).
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<std::path::PathBuf>,
}

/// One simulated acquirer and the terminal that uses it.
struct Scene {
    terminal: &'static str,
    name: (&'static str, &'static str),
    host: &'static str,
    fault: Fault,
    tls: TlsMode,
}

fn scenes() -> Vec<Scene> {
    vec![
        Scene {
            terminal: "T1",
            name: ("Checkout 1 (healthy acquirer)", "收银台 1（收单主机正常）"),
            host: "acquirer-ok",
            fault: Fault::Healthy,
            tls: TlsMode::Valid,
        },
        Scene {
            terminal: "T2",
            name: (
                "Checkout 2 (host refuses connections)",
                "收银台 2（主机拒绝连接）",
            ),
            host: "acquirer-down",
            fault: Fault::Refusing,
            tls: TlsMode::Plain,
        },
        Scene {
            terminal: "T3",
            name: ("Checkout 3 (unstable network)", "收银台 3（网络不稳定）"),
            host: "acquirer-flaky",
            fault: Fault::Flaky { drop_ratio: 0.4 },
            tls: TlsMode::Plain,
        },
        Scene {
            terminal: "T4",
            name: (
                "Checkout 4 (host accepts, never answers)",
                "收银台 4（主机接受连接但不应答）",
            ),
            host: "acquirer-stalled",
            fault: Fault::Stall,
            tls: TlsMode::Plain,
        },
        Scene {
            terminal: "T5",
            name: ("Checkout 5 (expired certificate)", "收银台 5（证书已过期）"),
            host: "acquirer-expired",
            fault: Fault::Healthy,
            tls: TlsMode::Expired,
        },
    ]
}

/// The simulated ZVT terminals: id, name (en, zh), corrupt every Nth frame.
const ZVT_SCENES: &[(&str, (&str, &str), u32)] = &[
    (
        "T6",
        (
            "Checkout 6 (ZVT terminal on a serial line)",
            "收银台 6（串口连接的 ZVT 终端）",
        ),
        0,
    ),
    (
        "T7",
        (
            "Checkout 7 (ZVT terminal, noisy serial cable)",
            "收银台 7（ZVT 终端，串口线有干扰）",
        ),
        2,
    ),
];

/// Runs the demo; returns the exit code (0 unless the demo itself failed:
/// the simulated faults are meant to be found).
pub async fn run(args: DemoArgs, ctx: &Context) -> anyhow::Result<u8> {
    let lang = ctx.out.lang;
    let dir = tempfile::Builder::new()
        .prefix("posdiag-demo-")
        .tempdir()
        .context("creating the demo's temporary directory")?;
    let pki = Arc::new(Pki::generate().context("generating the demo certificates")?);
    std::fs::write(dir.path().join("demo-ca.pem"), pki.ca_pem())
        .context("writing the demo CA certificate")?;

    let mut hosts: Vec<RunningHost> = Vec::new();
    let mut config = String::from(
        "[defaults]\ncount = 5\ninterval_ms = 50\ntimeout_ms = 800\nloss_warning_ratio = 0.01\nloss_critical_ratio = 0.8\n",
    );
    config.push_str(&format!(
        "check_interval_s = {}\n",
        if args.keep_running { 30 } else { 0 }
    ));
    for (i, s) in scenes().iter().enumerate() {
        let sim = host::start(HostSimConfig {
            fault: s.fault.clone(),
            tls: s.tls,
            answer: Answer::Reply {
                expect_prefix: b"PING".to_vec(),
                reply: b"PONG\n".to_vec(),
            },
            seed: Some(7 + i as u64),
            pki: Some(pki.clone()),
            ..HostSimConfig::default()
        })
        .await
        .with_context(|| format!("starting the simulated host {}", s.host))?;
        config.push_str(&format!(
            "\n[hosts.{}]\naddress = \"localhost\"\nport = {}\n",
            s.host,
            sim.addr().port()
        ));
        if s.tls != TlsMode::Plain {
            config.push_str(&format!(
                "[hosts.{}.tls]\nca_file = \"demo-ca.pem\"\n",
                s.host
            ));
        }
        config.push_str(&format!(
            "[hosts.{}.exchange]\nsend = \"PING\\n\"\nexpect = \"PONG\"\n",
            s.host
        ));
        hosts.push(sim);
    }
    for s in scenes() {
        let name = if lang == Lang::ZhCn {
            s.name.1
        } else {
            s.name.0
        };
        config.push_str(&format!(
            "\n[[terminals]]\nid = \"{}\"\nname = \"{name}\"\nvendor = \"Simulated\"\nmodel = \"posdiag-sim\"\nhosts = [\"{}\"]\n",
            s.terminal, s.host
        ));
    }
    // Two ZVT terminals on serial lines (pseudo-terminals): a healthy one,
    // and one whose line corrupts every second frame.
    let mut terminals = Vec::new();
    for (id, name, corrupt) in ZVT_SCENES {
        let link = dir.path().join(format!("zvt-{id}"));
        let sim = zvt::start(ZvtSimConfig {
            transport: ZvtTransport::Pty {
                link: Some(link.clone()),
            },
            ..ZvtSimConfig::default()
        })
        .with_context(|| format!("starting the simulated ZVT terminal {id}"))?;
        sim.update(|s| s.faults.corrupt_crc_every = *corrupt);
        let name = if lang == Lang::ZhCn { name.1 } else { name.0 };
        config.push_str(&format!(
            "\n[[terminals]]\nid = \"{id}\"\nname = \"{name}\"\nvendor = \"Simulated\"\nmodel = \"posdiag-sim zvt\"\nlink = \"serial:{}\"\nserial = \"9600-8N2\"\nhosts = [\"acquirer-ok\"]\n",
            link.display()
        ));
        terminals.push(sim);
    }
    // The small store: reference plugins speaking ZVT, nexo and ISO 8583 to
    // simulated terminals and an acquirer, each in a situation people know.
    let plugins = match &args.plugin_dir {
        Some(d) => Some(d.clone()),
        None => assemble_plugins(dir.path(), lang),
    };
    let mut store = Vec::new();
    let mut nexo_sims = Vec::new();
    if let Some(pdir) = &plugins {
        store = store_scenes(
            &mut config,
            pdir,
            dir.path(),
            &mut terminals,
            &mut hosts,
            &mut nexo_sims,
            lang,
        )
        .await?;
    }
    let parsed = posdiagd::config::parse(&config, "demo configuration", dir.path())
        .context("the demo configuration is invalid")?;
    let socket = dir.path().join("posdiagd.sock");
    let app = App::bind(parsed, vec![Listen::Unix(socket.clone())])
        .await
        .context("starting the in-process daemon")?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(app.run(async move {
        let _ = stop_rx.await;
    }));

    let demo_ctx = Context {
        endpoint: Endpoint::Unix(socket.clone()),
        out: ctx.out,
    };
    let (intro, checking) = match lang {
        Lang::En => (
            "posdiag demo: five simulated acquirer hosts and two simulated ZVT terminals on serial lines, checked through posdiagd's gRPC API.\n",
            "checking",
        ),
        Lang::ZhCn => (
            "posdiag 演示：五个模拟收单主机和两台串口连接的模拟 ZVT 终端，通过 posdiagd 的 gRPC API 检查。\n",
            "正在检查",
        ),
    };
    if !ctx.out.json {
        crate::outln!("{intro}");
    }
    let all: Vec<(&str, (&str, &str))> = scenes()
        .iter()
        .map(|s| (s.terminal, s.name))
        .chain(ZVT_SCENES.iter().map(|(id, name, _)| (*id, *name)))
        .collect();
    for (terminal, name) in all {
        if !ctx.out.json {
            let name = if lang == Lang::ZhCn { name.1 } else { name.0 };
            crate::outln!("== {checking} {terminal} — {name}");
        }
        commands::check(
            CheckArgs {
                terminal: terminal.to_owned(),
                checks: Vec::new(),
            },
            &demo_ctx,
        )
        .await?;
        if !ctx.out.json {
            crate::outln!();
        }
    }
    let mut doctors: Vec<StoreDoctor> = vec![StoreDoctor {
        terminal: "T2",
        symptom: Some("91"),
        id: None,
        title: (
            "host down: the acquirer refuses connections (the terminal showed 91)",
            "主机宕机：收单主机拒绝连接（终端显示 91）",
        ),
    }];
    doctors.extend(store);
    for d in doctors {
        if !ctx.out.json {
            let title = if lang == Lang::ZhCn {
                d.title.1
            } else {
                d.title.0
            };
            let cmd = match (d.symptom, d.id) {
                (Some(s), Some(id)) => {
                    format!("posdiag doctor {} --symptom {s} --id {id}", d.terminal)
                }
                (Some(s), None) => format!("posdiag doctor {} --symptom {s}", d.terminal),
                _ => format!("posdiag doctor {}", d.terminal),
            };
            crate::outln!("\n== {cmd} — {title}");
        }
        crate::doctor::run(
            crate::doctor::DoctorArgs {
                terminal: d.terminal.into(),
                symptom: d.symptom.map(str::to_owned),
                id: d.id.map(str::to_owned),
            },
            &demo_ctx,
        )
        .await?;
    }

    if args.keep_running {
        let endpoint = format!("unix:{}", socket.display());
        match lang {
            Lang::En => crate::outln!(
                "The demo daemon keeps running at {endpoint}\nTry, in another terminal:\n  export POSDIAG_ENDPOINT={endpoint}\n  posdiag terminals\n  posdiag check T3\n  posdiag history T4\n  posdiag watch\nPress Ctrl-C to stop."
            ),
            Lang::ZhCn => crate::outln!(
                "演示守护进程仍在运行：{endpoint}\n在另一个终端中试试：\n  export POSDIAG_ENDPOINT={endpoint}\n  posdiag terminals\n  posdiag check T3\n  posdiag history T4\n  posdiag watch\n按 Ctrl-C 停止。"
            ),
        }
        let _ = tokio::signal::ctrl_c().await;
    }

    let _ = stop_tx.send(());
    match tokio::time::timeout(Duration::from_secs(10), daemon).await {
        Ok(Ok(result)) => result.context("the in-process daemon failed")?,
        Ok(Err(e)) => return Err(anyhow::anyhow!("the in-process daemon task failed: {e}")),
        Err(_) => anyhow::bail!("the in-process daemon did not stop within 10 s"),
    }
    for h in hosts {
        h.shutdown().await;
    }
    drop(terminals);
    for n in nexo_sims {
        n.shutdown().await;
    }
    Ok(0)
}

/// A doctor run of the store, with what the situation is.
struct StoreDoctor {
    terminal: &'static str,
    symptom: Option<&'static str>,
    id: Option<&'static str>,
    title: (&'static str, &'static str),
}

/// Assembles the reference plugins with `plugins/assemble.sh` when the
/// source tree this binary was built from is there; `None` (with a note)
/// otherwise.
fn assemble_plugins(dir: &std::path::Path, lang: Lang) -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("plugins/assemble.sh");
    if !script.is_file() {
        crate::errln!(
            "{}",
            match lang {
                Lang::En =>
                    "posdiag demo: no source tree here, so no plugins (pass --plugin-dir DIR to use assembled bundles)",
                Lang::ZhCn =>
                    "posdiag demo：这里没有源代码树，因此没有插件（用 --plugin-dir DIR 指定已组装的插件包）",
            }
        );
        return None;
    }
    crate::errln!(
        "{}",
        match lang {
            Lang::En =>
                "posdiag demo: assembling the reference plugins (the first run compiles them)…",
            Lang::ZhCn => "posdiag demo：正在组装参考插件（首次运行需要编译）…",
        }
    );
    let out = dir.join("plugins");
    let status = std::process::Command::new("sh")
        .arg(&script)
        .arg(&out)
        .current_dir(&root)
        .stdout(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => Some(out),
        _ => {
            crate::errln!("posdiag demo: plugins/assemble.sh failed; continuing without plugins");
            None
        }
    }
}

/// Adds the store's terminals, acquirer and rule set to `config` and
/// returns the doctor runs that show each situation.
async fn store_scenes(
    config: &mut String,
    plugins: &std::path::Path,
    dir: &std::path::Path,
    terminals: &mut Vec<zvt::RunningZvt>,
    hosts: &mut Vec<RunningHost>,
    nexo_sims: &mut Vec<posdiag_sim::nexo::RunningNexo>,
    lang: Lang,
) -> anyhow::Result<Vec<StoreDoctor>> {
    use posdiag_sim::iso8583::{HostState, IsoHost, IsoScenario};
    use posdiag_sim::zvt::Card;
    let pick = |n: (&'static str, &'static str)| if lang == Lang::ZhCn { n.1 } else { n.0 };
    config.push_str(&format!("\n[plugins]\ndir = \"{}\"\n", plugins.display()));
    config.push_str("\n[rules.customer]\ndescription = \"customer numbers: 12 digits\"\nmin_length = 12\nmax_length = 12\ncharset = \"digits\"\n");
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
    config.push_str(&format!(
        "\n[hosts.acquirer-eod]\naddress = \"127.0.0.1\"\nport = {}\n[hosts.acquirer-eod.iso8583]\ndialect = \"ascii\"\ncount = 2\n",
        eod.addr().port()
    ));
    hosts.push(eod);
    // ZVT terminals on TCP: a dead card reader, and a card whose stripe cannot be read.
    let mut zvt_tcp = |status: u8, card: Card| -> anyhow::Result<std::net::SocketAddr> {
        let sim =
            zvt::start(ZvtSimConfig::default()).context("starting a simulated ZVT terminal")?;
        sim.update(|s| {
            s.identity.status = status;
            s.reader.card = card;
        });
        let addr = sim
            .local_addr()
            .context("the ZVT simulator has no address")?;
        terminals.push(sim);
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
    terminals.push(healthy);
    let nexo = posdiag_sim::nexo::start(posdiag_sim::nexo::NexoSimConfig::default())
        .await
        .context("starting the simulated nexo terminal")?;
    let nexo_addr = nexo.addr();
    nexo_sims.push(nexo);
    let t = |id: &str, name: (&str, &str), rest: String| {
        format!(
            "\n[[terminals]]\nid = \"{id}\"\nname = \"{}\"\nvendor = \"Simulated\"\n{rest}",
            if lang == Lang::ZhCn { name.1 } else { name.0 }
        )
    };
    config.push_str(&t(
        "T8",
        ("Checkout 8 (ZVT terminal, serial, healthy)", "收银台 8（ZVT 串口终端，正常）"),
        format!(
            "model = \"Move/5000\"\nlink = \"serial:{}\"\nhosts = [\"acquirer-ok\"]\nid_rules = \"customer\"\n",
            pty.display()
        ),
    ));
    config.push_str(&t(
        "T9",
        ("Checkout 9 (ZVT terminal, TCP)", "收银台 9（ZVT 网络终端）"),
        format!("model = \"Move/5000\"\nlink = \"tcp:{reader_dead}\"\ndialect = \"zvt-result\"\n"),
    ));
    config.push_str(&t(
        "T10",
        (
            "Checkout 10 (ZVT terminal, TCP)",
            "收银台 10（ZVT 网络终端）",
        ),
        format!("model = \"Move/5000\"\nlink = \"tcp:{stripe}\"\ndialect = \"zvt-result\"\n"),
    ));
    config.push_str(&t(
        "T11",
        ("Checkout 11 (nexo terminal)", "收银台 11（nexo 终端）"),
        format!(
            "model = \"V400m\"\nlink = \"tcp:{nexo_addr}\"\nprotocol = \"nexo\"\nplugin = \"posdiag.nexo\"\nplugin_args = {{ tls = \"false\" }}\n"
        ),
    ));
    config.push_str(&t(
        "T12",
        ("Checkout 12 (bank end of day)", "收银台 12（银行日切）"),
        "hosts = [\"acquirer-eod\"]\ndialect = \"iso8583-1987\"\n".to_owned(),
    ));
    let _ = pick;
    Ok(vec![
        StoreDoctor {
            terminal: "T8",
            symptom: None,
            id: None,
            title: ("healthy: a full check-up", "正常：全面检查"),
        },
        StoreDoctor {
            terminal: "T9",
            symptom: None,
            id: None,
            title: ("card reader defective", "读卡器故障"),
        },
        StoreDoctor {
            terminal: "T12",
            symptom: Some("90"),
            id: None,
            title: ("the bank's end-of-day window", "银行日切时段"),
        },
        StoreDoctor {
            terminal: "T10",
            symptom: Some("64"),
            id: None,
            title: ("card stripe unreadable", "卡片磁条无法读取"),
        },
        StoreDoctor {
            terminal: "T11",
            symptom: None,
            id: None,
            title: ("a nexo terminal's own diagnosis", "nexo 终端自身的诊断"),
        },
        StoreDoctor {
            terminal: "T8",
            symptom: Some("unsupported-id"),
            id: Some("13812345678"),
            title: (
                "\"unsupported customer ID\": a phone number was typed",
                "“不支持的客户ID”：输入的是手机号",
            ),
        },
    ])
}
