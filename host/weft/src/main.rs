//! `weft`: the WebAssembly-plugin integration hub.
//!
//! Runs business events from HTTP, the embedded log, Redis and AMQP through sandboxed
//! WebAssembly plugins and delivers what they emit, at least once. See the README for
//! the quick start and `weft --help` for the commands.

mod config;
mod deadletter_cmd;
mod embedded_default;
mod filter_cmd;
mod hub;
mod plugin_cmd;
mod send_cmd;
mod tail_cmd;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `weft --version`: the binary's version and the plugin contract (WIT package) it runs.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (plugin contract weft:plugin@0.1.0)"
);

/// Exit code for a configuration error (sysexits EX_CONFIG).
const EXIT_CONFIG: u8 = 78;

#[derive(Parser)]
#[command(
    name = "weft",
    version = VERSION,
    about = "weft: a WebAssembly-plugin integration hub",
    long_about = "weft takes business events (CloudEvents) from HTTP, its embedded durable log, Redis and RabbitMQ, runs them through sandboxed WebAssembly plugins, and delivers what the plugins emit — at least once.\n\nStart with `weft run` (no config: a demo on 127.0.0.1:8080), write a plugin with `weft plugin new`, check a config with `weft validate`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub. Without --config: HTTP ingress on 127.0.0.1:8080, the embedded log in
    /// ./.weft and the bundled example plugins (a sample order flows to stdout).
    Run {
        /// The configuration file (TOML).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Override `hub.listen` (e.g. 127.0.0.1:9090).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Check a configuration: fields, references, plugin files and grants. Prints every
    /// problem with its location; exits 0 when valid, 78 when not.
    Validate {
        /// The configuration file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Also compile every plugin and check it is a weft plugin.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        load_plugins: bool,
        /// Also check that every Redis and RabbitMQ server the config names answers.
        #[arg(long)]
        connect: bool,
    },
    /// Work with plugins: scaffold, build, run on events from stdin.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Evaluate a CESQL v1 expression on one CloudEvent (structured JSON) read from stdin;
    /// print {"result": ..., "error": null | {"kind", "message"}}. Exit 0 when evaluated
    /// (even with an error kind), 2 on usage errors.
    Filter {
        /// The CESQL expression, e.g. "type LIKE 'com.example.%' AND EXISTS subject".
        #[arg(long)]
        sql: String,
    },
    /// Post CloudEvents to a topic of a running hub: from FILE or stdin (one JSON per line,
    /// a batch array, or a single event), or one built with --type/--source/--data. Prints
    /// a summary (accepted, refused with reasons); exit 0 when all were accepted, 1 when any
    /// was refused, 2 on usage errors.
    Send {
        /// The topic (`POST /v1/events/TOPIC`).
        topic: String,
        /// The input file (default or `-`: stdin).
        file: Option<PathBuf>,
        /// The hub's URL.
        #[arg(long, default_value = "http://127.0.0.1:8080", env = "WEFT_URL")]
        url: String,
        /// Bearer token (`[[auth.tokens]]` with `publish` on the topic).
        #[arg(long, env = "WEFT_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Events per request.
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// Most bytes per request (keep it under the hub's `max_body_bytes`).
        #[arg(long, default_value_t = 512 * 1024)]
        batch_bytes: usize,
        /// Build one event of this type instead of reading input.
        #[arg(long = "type", value_name = "TYPE")]
        ty: Option<String>,
        /// The built event's source.
        #[arg(long)]
        source: Option<String>,
        /// The built event's data: JSON, or else a string.
        #[arg(long)]
        data: Option<String>,
        /// The built event's id (default: random).
        #[arg(long)]
        id: Option<String>,
        /// The built event's subject.
        #[arg(long)]
        subject: Option<String>,
        /// Show a progress bar: always, never (default: on a terminal, for inputs over 1 MiB).
        #[arg(long)]
        progress: Option<bool>,
    },
    /// Follow a topic of a running hub over server-sent events and print each event as a
    /// JSON line (pretty and coloured on a terminal). Reconnects and resumes exactly
    /// after the last event printed.
    Tail {
        /// The topic.
        topic: String,
        /// The hub's URL.
        #[arg(long, default_value = "http://127.0.0.1:8080", env = "WEFT_URL")]
        url: String,
        /// Bearer token (`[[auth.tokens]]` with `read` on the topic).
        #[arg(long, env = "WEFT_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Where to start: latest (default), earliest, an offset, an event id or an
        /// RFC 3339 timestamp.
        #[arg(long)]
        from: Option<String>,
        /// Only events matching this CESQL expression.
        #[arg(long)]
        filter: Option<String>,
        /// Exit after this many events.
        #[arg(long)]
        count: Option<u64>,
        /// Pretty, coloured output: true or false (default: when stdout is a terminal).
        #[arg(long)]
        pretty: Option<bool>,
    },
    /// Print a shell completion script: `weft completions bash > /etc/bash_completion.d/weft`,
    /// `weft completions zsh > "${fpath[1]}/_weft"`, `weft completions fish >
    /// ~/.config/fish/completions/weft.fish`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Dead letters: `weft deadletter replay` re-posts them.
    #[command(subcommand)]
    Deadletter(DeadletterCommand),
    /// Measure the per-event cost of the sandbox and broker throughput against native
    /// Rust: runs the separate `weft-bench` binary (next to this one or on the PATH) with
    /// these arguments; `weft bench --help` shows its options.
    #[command(disable_help_flag = true)]
    Bench {
        /// Arguments for `weft-bench`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Create a new plugin crate from the SDK template.
    New {
        /// Plugin name (a-z, 0-9, -, _).
        name: String,
        /// Language of the template.
        #[arg(long, default_value = "rust")]
        lang: String,
        /// Directory to create (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Build a plugin crate into a .wasm component (wasm32-wasip2).
    Build {
        /// The plugin's directory (default: the current one).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Cargo profile.
        #[arg(long, default_value = "release")]
        profile: String,
    },
    /// Run CloudEvents (JSON, one per line, on stdin) through a plugin with the hub's
    /// runtime and limits; print each emitted event as a JSON line, or
    /// {"failure":{"kind":"retry"|"reject","message":...}}. Exit 0 when every event was
    /// handled, 1 when any failed, 2 on usage or load errors.
    Run {
        /// The plugin component.
        plugin: PathBuf,
        /// A configuration entry for the plugin, key=value (repeatable; `--config` is an
        /// alias).
        #[arg(long = "set", visible_alias = "config", value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// Grant outbound HTTP to scheme://host[:port] (repeatable).
        #[arg(long = "allow-http", value_name = "PATTERN")]
        allow_http: Vec<String>,
        /// Memory limit in MiB (default 64).
        #[arg(long)]
        memory_mib: Option<u64>,
        /// CPU limit per event in ms (default 100).
        #[arg(long)]
        cpu_ms: Option<u64>,
        /// Reuse one warm instance across events instead of a fresh one per event.
        #[arg(long)]
        warm: bool,
        /// Keep the plugin's key-value state in this directory (default: temporary).
        #[arg(long)]
        kv_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DeadletterCommand {
    /// Re-post dead-lettered events (original ids, `deadletter*` attributes removed) to the
    /// embedded topics their routes read, on a stopped hub's data directory. Prints what
    /// it replayed and left out, and the `--from` for the next run.
    Replay {
        /// The configuration file (TOML) of the hub.
        #[arg(long, short)]
        config: PathBuf,
        /// The dead-letter topic (default: `hub.dead_letter` when it is `topic:NAME`).
        #[arg(long)]
        topic: Option<String>,
        /// Only records of this route.
        #[arg(long)]
        route: Option<String>,
        /// Only records whose reason contains this text.
        #[arg(long)]
        reason: Option<String>,
        /// Append to this topic instead of the route's input topics.
        #[arg(long)]
        to: Option<String>,
        /// First offset of the dead-letter topic to look at.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Count what would be replayed; append nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the JSON Schema of the configuration file.
    Schema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(dispatch(cli.command))
}

fn base_dir(config: &Path) -> PathBuf {
    config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

async fn dispatch(command: Command) -> ExitCode {
    match command {
        Command::Run { config, listen } => {
            let (mut cfg, base, options) = match config {
                Some(path) => match config::load(&path) {
                    Ok(c) => (c, base_dir(&path), hub::RunOptions::default()),
                    Err(e) => {
                        for problem in e.problems() {
                            eprintln!("error: {problem}");
                        }
                        return ExitCode::from(EXIT_CONFIG);
                    }
                },
                None => {
                    let options = hub::RunOptions {
                        sample: Some(("orders".into(), embedded_default::sample_event())),
                    };
                    (embedded_default::config(), PathBuf::from("."), options)
                }
            };
            if let Some(listen) = listen {
                cfg.hub.listen = listen;
            }
            let format = if cfg.hub.log_format == config::LogFormat::Json {
                weft_telemetry::LogFormat::Json
            } else {
                weft_telemetry::LogFormat::Text
            };
            let traces = match weft_telemetry::init_tracing_with_traces(
                format,
                "info",
                &cfg.telemetry.settings(),
            ) {
                Ok(guard) => guard,
                Err(e) => {
                    eprintln!("error: telemetry: {e}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            // a configuration weft would refuse (e.g. a public listener without tokens)
            // exits 78 like `weft validate`, before anything is opened
            let problems = validate::check_for_run(&cfg, &base);
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("{p}");
                }
                eprintln!(
                    "error: the configuration has {} problem(s); run `weft validate` for details",
                    problems.len()
                );
                return ExitCode::from(EXIT_CONFIG);
            }
            let code = match hub::run(cfg, &base, options).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            };
            // export the spans still buffered (the flush blocks; keep it off the runtime)
            if let Some(guard) = traces {
                let _ = tokio::task::spawn_blocking(move || drop(guard)).await;
            }
            code
        }
        Command::Validate {
            config,
            load_plugins,
            connect,
        } => {
            let cfg = match config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    let problems = e.problems();
                    for problem in &problems {
                        println!("error: {problem}");
                    }
                    println!(
                        "{}: {} error(s); the configuration is not valid",
                        config.display(),
                        problems.len()
                    );
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            let base = base_dir(&config);
            let mut problems = validate::check(&cfg, &base);
            if load_plugins {
                validate::check_plugins_load(&cfg, &base, &mut problems);
            }
            if connect {
                validate::check_connections(&cfg, &mut problems).await;
            }
            let errors = problems
                .iter()
                .filter(|p| p.severity == validate::Severity::Error)
                .count();
            for p in &problems {
                println!("{}: {p}", config.display());
            }
            if errors > 0 {
                println!(
                    "{}: {errors} error(s); the configuration is not valid",
                    config.display()
                );
                ExitCode::from(EXIT_CONFIG)
            } else {
                println!(
                    "{}: valid ({} route(s), {} plugin(s))",
                    config.display(),
                    cfg.routes.len(),
                    cfg.plugins.len()
                );
                ExitCode::SUCCESS
            }
        }
        Command::Plugin(PluginCommand::New { name, lang, dir }) => {
            match plugin_cmd::new_plugin(&name, &lang, dir.as_deref()) {
                Ok(path) => {
                    println!("created plugin `{name}` in {}", path.display());
                    println!("next: weft plugin build {}", path.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Plugin(PluginCommand::Build { dir, profile }) => {
            match plugin_cmd::build_plugin(&dir, &profile) {
                Ok(wasm) => {
                    println!("{}", wasm.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Plugin(PluginCommand::Run {
            plugin,
            config,
            allow_http,
            memory_mib,
            cpu_ms,
            warm,
            kv_dir,
        }) => {
            weft_telemetry::init_tracing(weft_telemetry::LogFormat::Text, "warn");
            let code = plugin_cmd::run_plugin(plugin_cmd::RunPluginOptions {
                wasm: plugin,
                config,
                allow_http,
                memory_mib,
                cpu_ms,
                warm,
                kv_dir,
            })
            .await;
            ExitCode::from(code as u8)
        }
        Command::Config(ConfigCommand::Schema) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&config::schema()).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Command::Bench { args } => run_bench(&args),
        Command::Filter { sql } => {
            match filter_cmd::run_filter(&sql, std::io::stdin().lock(), std::io::stdout().lock()) {
                Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Send {
            topic,
            file,
            url,
            token,
            batch,
            batch_bytes,
            ty,
            source,
            data,
            id,
            subject,
            progress,
        } => {
            let options = send_cmd::SendOptions {
                topic,
                file,
                url,
                token,
                batch,
                batch_bytes,
                ty,
                source,
                data,
                id,
                subject,
                progress,
            };
            match send_cmd::run_send(options).await {
                Ok(code) => ExitCode::from(code),
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Tail {
            topic,
            url,
            token,
            from,
            filter,
            count,
            pretty,
        } => {
            let options = tail_cmd::TailOptions {
                topic,
                url,
                token,
                from,
                filter,
                count,
                pretty,
            };
            match tail_cmd::run_tail(options).await {
                Ok(code) => ExitCode::from(code),
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Deadletter(DeadletterCommand::Replay {
            config: path,
            topic,
            route,
            reason,
            to,
            from,
            dry_run,
        }) => {
            let config = match config::load(&path) {
                Ok(c) => c,
                Err(e) => {
                    for problem in e.problems() {
                        eprintln!("error: {problem}");
                    }
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            let options = deadletter_cmd::ReplayOptions {
                topic,
                route,
                reason,
                to,
                from,
                dry_run,
            };
            match deadletter_cmd::replay(&config, &base_dir(&path), &options).await {
                Ok(summary) => ExitCode::from(deadletter_cmd::print_summary(&summary, dry_run)),
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            clap_complete::generate(shell, &mut Cli::command(), "weft", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
    }
}

/// `weft bench`: the benchmarks live in their own binary so the hub does not link them
/// (nor the native baseline plugin, lapin's and redis' benchmark clients).
fn run_bench(args: &[std::ffi::OsString]) -> ExitCode {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("weft-bench")))
        .filter(|path| path.is_file());
    let program = beside.unwrap_or_else(|| PathBuf::from("weft-bench"));
    match std::process::Command::new(&program).args(args).status() {
        Ok(status) => ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8),
        Err(e) => {
            eprintln!(
                "error: cannot run {}: {e}\nthe benchmarks are a separate binary: `cargo build --release -p weft-bench` (or `cargo install --path host/bench`)",
                program.display()
            );
            ExitCode::from(2)
        }
    }
}
