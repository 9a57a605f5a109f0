//! `posdiag demo` (run by `posdiag-lab`): everything posdiag does, with nothing to install. It
//! starts simulated acquirer hosts (healthy, refusing, flaky, stalled, and
//! one with an expired certificate) and simulated ZVT terminals (one on a
//! pseudo-terminal like a serial port, one whose serial line corrupts
//! frames), an in-process posdiagd on a temporary unix socket configured with
//! a terminal per scene, runs `posdiag check` on each terminal through the
//! real gRPC API, and ends with `posdiag doctor` on the one whose acquirer
//! is down, then the doctor on each situation of the simulated
//! [`crate::store`]. Everything is rendered by the CLI's own code over gRPC.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use posdiag_cli::cli::{CheckArgs, DemoArgs};
use posdiag_cli::commands::{self, Context};
use posdiag_cli::endpoint::Endpoint;
use posdiag_cli::{errln, outln};
use posdiag_core::{Lang, Text};
use posdiag_sim::host::{self, Answer, Fault, HostSimConfig, RunningHost, TlsMode};
use posdiag_sim::pki::Pki;
use posdiag_sim::zvt::{self, ZvtSimConfig, ZvtTransport};
use posdiagd::{App, Listen};

use crate::store::{self, Host, Situation, Store, Terminal};

/// One simulated acquirer and the terminal that uses it.
struct Scene {
    terminal: &'static str,
    name: Text,
    host: &'static str,
    fault: Fault,
    tls: TlsMode,
}

fn scenes() -> Vec<Scene> {
    vec![
        Scene {
            terminal: "T1",
            name: Text::new("Checkout 1 (healthy acquirer)", "收银台 1（收单主机正常）"),
            host: "acquirer-ok",
            fault: Fault::Healthy,
            tls: TlsMode::Valid,
        },
        Scene {
            terminal: "T2",
            name: Text::new(
                "Checkout 2 (host refuses connections)",
                "收银台 2（主机拒绝连接）",
            ),
            host: "acquirer-down",
            fault: Fault::Refusing,
            tls: TlsMode::Plain,
        },
        Scene {
            terminal: "T3",
            name: Text::new("Checkout 3 (unstable network)", "收银台 3（网络不稳定）"),
            host: "acquirer-flaky",
            fault: Fault::Flaky { drop_ratio: 0.4 },
            tls: TlsMode::Plain,
        },
        Scene {
            terminal: "T4",
            name: Text::new(
                "Checkout 4 (host accepts, never answers)",
                "收银台 4（主机接受连接但不应答）",
            ),
            host: "acquirer-stalled",
            fault: Fault::Stall,
            tls: TlsMode::Plain,
        },
        Scene {
            terminal: "T5",
            name: Text::new("Checkout 5 (expired certificate)", "收银台 5（证书已过期）"),
            host: "acquirer-expired",
            fault: Fault::Healthy,
            tls: TlsMode::Expired,
        },
    ]
}

/// The simulated ZVT terminals: id, name, corrupt every Nth frame.
fn zvt_scenes() -> Vec<(&'static str, Text, u32)> {
    vec![
        (
            "T6",
            Text::new(
                "Checkout 6 (ZVT terminal on a serial line)",
                "收银台 6（串口连接的 ZVT 终端）",
            ),
            0,
        ),
        (
            "T7",
            Text::new(
                "Checkout 7 (ZVT terminal, noisy serial cable)",
                "收银台 7（ZVT 终端，串口线有干扰）",
            ),
            2,
        ),
    ]
}

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
        let h = Host {
            ca_file: (s.tls != TlsMode::Plain).then(|| "demo-ca.pem".to_owned()),
            exchange: Some(("PING\n".into(), "PONG".into())),
            ..Host::new(s.host, "localhost", sim.addr().port())
        };
        config.push_str(&h.to_string());
        hosts.push(sim);
    }
    for s in scenes() {
        let t = Terminal::new(s.terminal)
            .name(s.name.get(lang))
            .vendor("Simulated")
            .model("posdiag-sim")
            .host(s.host);
        config.push_str(&t.to_string());
    }
    // Two ZVT terminals on serial lines (pseudo-terminals): a healthy one,
    // and one whose line corrupts every second frame.
    let mut terminals = Vec::new();
    for (id, name, corrupt) in zvt_scenes() {
        let link = dir.path().join(format!("zvt-{id}"));
        let sim = zvt::start(ZvtSimConfig {
            transport: ZvtTransport::Pty {
                link: Some(link.clone()),
            },
            ..ZvtSimConfig::default()
        })
        .with_context(|| format!("starting the simulated ZVT terminal {id}"))?;
        sim.update(|s| s.faults.corrupt_crc_every = corrupt);
        let t = Terminal::zvt_serial(id, &link)
            .name(name.get(lang))
            .vendor("Simulated")
            .model("posdiag-sim zvt")
            .serial("9600-8N2")
            .host("acquirer-ok");
        config.push_str(&t.to_string());
        terminals.push(sim);
    }
    // The small store: reference plugins speaking ZVT, nexo and ISO 8583 to
    // simulated terminals and an acquirer, each in a situation people know.
    let plugins = match &args.plugin_dir {
        Some(d) => Some(d.clone()),
        None => assemble_plugins(dir.path(), lang),
    };
    let store = match &plugins {
        Some(pdir) => Some(Store::start(pdir, dir.path(), lang).await?),
        None => None,
    };
    if let Some(store) = &store {
        config.push_str(&store.config);
    }
    // The demo's history lives and dies with its directory.
    config.push_str("\n[history]\npath = \"history.db\"\n");
    // The store's web page: with --keep-running on 8631 when it is free (an
    // address to remember), else on any free port.
    let console = if args.keep_running && std::net::TcpListener::bind("127.0.0.1:8631").is_ok() {
        "127.0.0.1:8631"
    } else {
        "127.0.0.1:0"
    };
    config.push_str(&format!("\n[console]\nlisten = \"{console}\"\n"));
    let parsed = posdiagd::config::parse(&config, "demo configuration", dir.path())
        .context("the demo configuration is invalid")?;
    let socket = dir.path().join("posdiagd.sock");
    let app = App::bind(parsed, vec![Listen::Unix(socket.clone())])
        .await
        .context("starting the in-process daemon")?;
    let console_url = app.console_url().unwrap_or_default();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(app.run(async move {
        let _ = stop_rx.await;
    }));

    let demo_ctx = Context {
        endpoint: Endpoint::Unix(socket.clone()),
        out: ctx.out,
        creds: Default::default(),
    };
    let intro = Text::new(
        "posdiag demo: a simulated store — five acquirer hosts, ZVT terminals on serial lines and TCP, a nexo terminal and an ISO 8583 acquirer — checked through posdiagd's gRPC API.\n",
        "posdiag 演示：一家模拟门店——五个收单主机、串口和 TCP 连接的 ZVT 终端、一台 nexo 终端和一个 ISO 8583 收单行——通过 posdiagd 的 gRPC API 检查。\n",
    );
    let checking = Text::new("checking", "正在检查");
    if !ctx.out.json {
        outln!("{}", intro.get(lang));
    }
    let all: Vec<(&str, Text)> = scenes()
        .into_iter()
        .map(|s| (s.terminal, s.name))
        .chain(zvt_scenes().into_iter().map(|(id, name, _)| (id, name)))
        .collect();
    for (terminal, name) in all {
        if !ctx.out.json {
            let (checking, name) = (checking.get(lang), name.get(lang));
            outln!("== {checking} {terminal} — {name}");
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
            outln!();
        }
    }
    let mut doctors: Vec<Situation> = vec![Situation {
        terminal: "T2",
        symptom: Some("91"),
        id: None,
        title: Text::new(
            "host down: the acquirer refuses connections (the terminal showed 91)",
            "主机宕机：收单主机拒绝连接（终端显示 91）",
        ),
    }];
    if let Some(store) = &store {
        doctors.extend(store.situations.iter().cloned());
    }
    for d in doctors {
        if !ctx.out.json {
            let title = d.title.get(lang);
            let cmd = match (d.symptom, d.id) {
                (Some(s), Some(id)) => {
                    format!("posdiag doctor {} --symptom {s} --id {id}", d.terminal)
                }
                (Some(s), None) => format!("posdiag doctor {} --symptom {s}", d.terminal),
                _ => format!("posdiag doctor {}", d.terminal),
            };
            outln!("\n== {cmd} — {title}");
        }
        posdiag_cli::doctor::run(
            posdiag_cli::doctor::DoctorArgs {
                terminal: d.terminal.into(),
                symptom: d.symptom.map(str::to_owned),
                id: d.id.map(str::to_owned),
                ..Default::default()
            },
            &demo_ctx,
        )
        .await?;
    }

    if args.keep_running {
        let endpoint = format!("unix:{}", socket.display());
        let keep_running = Text::new(
            format!(
                "The demo daemon keeps running at {endpoint}\nThe store's web page: {console_url}\nTry, in another terminal:\n  export POSDIAG_ENDPOINT={endpoint}\n  posdiag terminals\n  posdiag check T3\n  posdiag history T4\n  posdiag watch\nPress Ctrl-C to stop."
            ),
            format!(
                "演示守护进程仍在运行：{endpoint}\n门店网页：{console_url}\n在另一个终端中试试：\n  export POSDIAG_ENDPOINT={endpoint}\n  posdiag terminals\n  posdiag check T3\n  posdiag history T4\n  posdiag watch\n按 Ctrl-C 停止。"
            ),
        );
        outln!("{}", keep_running.get(lang));
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
    if let Some(store) = store {
        store.shutdown().await;
    }
    Ok(0)
}

/// Assembles the reference plugins with `plugins/assemble.sh` when the
/// source tree this binary was built from is there; `None` (with a note)
/// otherwise.
fn assemble_plugins(dir: &std::path::Path, lang: Lang) -> Option<std::path::PathBuf> {
    let out = dir.join("plugins");
    if !std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../plugins/assemble.sh")
        .is_file()
    {
        errln!(
            "{}",
            Text::new(
                "posdiag demo: no source tree here, so no plugins (pass --plugin-dir DIR to use assembled bundles)",
                "posdiag demo：这里没有源代码树，因此没有插件（用 --plugin-dir DIR 指定已组装的插件包）",
            )
            .get(lang)
        );
        return None;
    }
    errln!(
        "{}",
        Text::new(
            "posdiag demo: assembling the reference plugins (the first run compiles them)…",
            "posdiag demo：正在组装参考插件（首次运行需要编译）…",
        )
        .get(lang)
    );
    match store::assemble(&out, false) {
        Ok(true) => Some(out),
        _ => {
            errln!(
                "{}",
                Text::new(
                    "posdiag demo: plugins/assemble.sh failed; continuing without plugins",
                    "posdiag demo：plugins/assemble.sh 失败，不使用插件继续",
                )
                .get(lang)
            );
            None
        }
    }
}
