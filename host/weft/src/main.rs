//! `weft`: the WebAssembly-plugin integration hub.
//!
//! Runs business events from HTTP, the embedded log, Redis and AMQP through sandboxed
//! WebAssembly plugins and delivers what they emit, at least once. See the README for
//! the quick start and `weft --help` for the commands.

mod bench;
mod bench_amqp;
mod config;
mod embedded_default;
mod hub;
mod plugin_cmd;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for a configuration error (sysexits EX_CONFIG).
const EXIT_CONFIG: u8 = 78;

#[derive(Parser)]
#[command(
    name = "weft",
    version,
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
    /// Measure the per-event cost of the sandbox against native Rust.
    Bench {
        /// Events per mode.
        #[arg(long, default_value_t = 20_000)]
        events: usize,
        /// Also measure end-to-end throughput stream → plugin → stream against this Redis
        /// (e.g. redis://127.0.0.1:6379), next to a native consumer.
        #[arg(long, value_name = "URL")]
        redis: Option<String>,
        /// Also measure end-to-end throughput queue → plugin → confirmed publish → ack
        /// against this RabbitMQ (e.g. amqp://guest:guest@127.0.0.1:5672/%2f), next to a
        /// native lapin consumer/publisher.
        #[arg(long, value_name = "URI")]
        amqp: Option<String>,
        /// Which instance modes to measure (the native baseline always runs).
        #[arg(long, value_enum, default_value_t = bench::Modes::Both)]
        mode: bench::Modes,
        /// Measure this plugin (.wasm component) instead, on the event in --input.
        #[arg(long, value_name = "WASM", requires = "input")]
        plugin: Option<PathBuf>,
        /// The CloudEvent (structured JSON) that --plugin is measured on.
        #[arg(long, value_name = "EVENT.json", requires = "plugin")]
        input: Option<PathBuf>,
        /// Plugin configuration for --plugin, as key=value (repeatable).
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
        plugin_config: Vec<(String, String)>,
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
        /// A configuration entry for the plugin, key=value (repeatable).
        #[arg(long = "config", value_name = "KEY=VALUE")]
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
                        weft_telemetry::init_tracing(weft_telemetry::LogFormat::Text, "info");
                        eprintln!("error: {e}");
                        return ExitCode::from(EXIT_CONFIG);
                    }
                },
                None => {
                    let bundled = match embedded_default::bundled() {
                        Ok(b) => b,
                        Err(e) => {
                            eprintln!("error: {e}");
                            return ExitCode::from(2);
                        }
                    };
                    let options = hub::RunOptions {
                        bundled,
                        sample: Some(("orders".into(), embedded_default::sample_event())),
                    };
                    (embedded_default::config(), PathBuf::from("."), options)
                }
            };
            if let Some(listen) = listen {
                cfg.hub.listen = listen;
            }
            let format = if cfg.hub.log_format == "json" {
                weft_telemetry::LogFormat::Json
            } else {
                weft_telemetry::LogFormat::Text
            };
            weft_telemetry::init_tracing(format, "info");
            match hub::run(cfg, &base, options).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Validate {
            config,
            load_plugins,
            connect,
        } => {
            let cfg = match config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    println!("error: {e}");
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
        Command::Bench {
            events,
            redis,
            amqp,
            mode,
            plugin,
            input,
            plugin_config,
        } => {
            // the pipelines pay for logging and metrics exactly as under `weft run`
            weft_telemetry::init_tracing(weft_telemetry::LogFormat::Text, "warn");
            if let Err(e) = weft_telemetry::install_metrics() {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
            if let (Some(wasm), Some(input)) = (plugin, input) {
                let event = match std::fs::read(&input)
                    .map_err(|e| e.to_string())
                    .and_then(|b| weft_event::Event::from_json_slice(&b).map_err(|e| e.to_string()))
                {
                    Ok(e) => e,
                    Err(e) => {
                        eprintln!("error: {}: {e}", input.display());
                        return ExitCode::from(2);
                    }
                };
                return match bench::run_plugin(&wasm, &event, &plugin_config, events.max(1), mode)
                    .await
                {
                    Ok(m) => {
                        bench::print_plugin(&wasm, &m);
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        ExitCode::FAILURE
                    }
                };
            }
            match bench::run(events.max(1), mode).await {
                Ok(m) => bench::print(&m),
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return ExitCode::FAILURE;
                }
            }
            if let Some(url) = redis {
                println!();
                match bench::run_redis(&url, events.max(1), mode).await {
                    Ok(r) => bench::print_throughput(
                        "Redis stream → passthrough plugin → Redis stream",
                        &r,
                    ),
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            if let Some(uri) = amqp {
                println!();
                match bench_amqp::run_amqp(&uri, events.max(1), mode).await {
                    Ok(r) => bench::print_throughput(
                        "RabbitMQ queue → passthrough plugin → confirmed publish → ack",
                        &r,
                    ),
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            ExitCode::SUCCESS
        }
    }
}

/// Parses `key=value`.
fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got `{s}`"))
}
