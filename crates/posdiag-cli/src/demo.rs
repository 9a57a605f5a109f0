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
        println!("{intro}");
    }
    let all: Vec<(&str, (&str, &str))> = scenes()
        .iter()
        .map(|s| (s.terminal, s.name))
        .chain(ZVT_SCENES.iter().map(|(id, name, _)| (*id, *name)))
        .collect();
    for (terminal, name) in all {
        if !ctx.out.json {
            let name = if lang == Lang::ZhCn { name.1 } else { name.0 };
            println!("== {checking} {terminal} — {name}");
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
            println!();
        }
    }
    if !ctx.out.json {
        println!(
            "{}",
            match lang {
                Lang::En => "== posdiag doctor T2 — what is wrong, and what to do",
                Lang::ZhCn => "== posdiag doctor T2 — 哪里出了问题，该怎么办",
            }
        );
    }
    crate::doctor::run(
        crate::doctor::DoctorArgs {
            terminal: "T2".into(),
            symptom: Some("91".into()),
            id: None,
        },
        &demo_ctx,
    )
    .await?;

    if args.keep_running {
        let endpoint = format!("unix:{}", socket.display());
        match lang {
            Lang::En => println!(
                "The demo daemon keeps running at {endpoint}\nTry, in another terminal:\n  export POSDIAG_ENDPOINT={endpoint}\n  posdiag terminals\n  posdiag check T3\n  posdiag history T4\n  posdiag watch\nPress Ctrl-C to stop."
            ),
            Lang::ZhCn => println!(
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
    Ok(0)
}
