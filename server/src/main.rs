//! `hcp`: command-line entry of the 好差评 platform. Parses the command line, loads the
//! configuration and hands over to the library.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use hcp_server::app::config::Config;
use hcp_server::app::import::{ImportFormat, ImportKind, PfCodes, SatisfactionCodes};

/// sled allocates and frees a page node on every write; mimalloc does that at a fraction of
/// glibc malloc's cost (about a third of the committer's time went to malloc and free).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "hcp", version, about = "政务服务“好差评”平台 (Haochaping)")]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Start the platform.
    Serve(Common),
    /// Start the platform with the seeded demo city (平顶山市) and simulated devices.
    #[cfg(feature = "demo")]
    Demo(Common),
    /// Rebuild every projection from the event log (run while the platform is stopped).
    Rebuild(Common),
    /// Convert the data folder's store from an earlier schema to this build's (run while the
    /// platform is stopped). Every sequence number is kept; the old store stays beside the new
    /// one as `store.v<old version>` until you remove it.
    Migrate(Common),
    /// Import ratings or service events from a file (history, a new city's cut-over) in large
    /// batches, run while the platform is stopped. Resumes from its checkpoint after a kill;
    /// refused records are reported with their number and reason.
    Import(ImportArgs),
    /// Back the data folder up while the platform serves it (or while it is stopped): the event
    /// log up to its head now, with the adapters and reports beside it, verified once written.
    /// With --since, only what came after an earlier backup (incremental).
    Backup(BackupArgs),
    /// Restore backups into a new data folder: a full backup, then the incremental ones that
    /// follow it, in order (--from each). The personal-data key must be in place first.
    Restore(RestoreArgs),
    /// Work with WASM adapters.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Work with the county policies (Rhai rules).
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Look into the data folder's store.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Run a simulated provincial 好差评 platform (河南 uplink format) for tests and demos.
    #[cfg(feature = "demo")]
    ProvinceSim {
        /// Listen address (port 0 picks a free port, printed at start).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9300")]
        listen: SocketAddr,
        /// Folder where it keeps the batches it accepted.
        #[arg(long, value_name = "DIR", default_value = "province-sim-data")]
        data: PathBuf,
    },
}

#[derive(Args)]
struct BackupArgs {
    #[command(flatten)]
    common: Common,
    /// A new (or empty) folder for the backup.
    #[arg(long, value_name = "DIR")]
    to: PathBuf,
    /// An earlier backup: the new one holds only what came after it.
    #[arg(long, value_name = "DIR")]
    since: Option<PathBuf>,
}

#[derive(Args)]
struct RestoreArgs {
    #[command(flatten)]
    common: Common,
    /// A backup folder; give the full backup first, then the incremental ones in order.
    #[arg(long = "from", value_name = "DIR", required = true)]
    from: Vec<PathBuf>,
}

#[derive(Args)]
struct ImportArgs {
    #[command(flatten)]
    common: Common,
    /// The source the records are recorded as (it must exist).
    #[arg(long)]
    source: String,
    /// What the file holds.
    #[arg(long, value_enum)]
    kind: ImportKind,
    /// `jsonl`: a canonical API object per line; `csv`: ratings with the provincial field
    /// names (projectNo, serviceNumber, assessNumber, taskCode, deptCode, areaCode,
    /// serviceName, satisfaction, pf, evalDetail, writingEvaluation, assessTime, userProp,
    /// userName, mobile; optional eventId, window, staff, device) in a header row.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: ImportFormat,
    /// The CSV's `satisfaction` numbering: `provincial` (5 = 非常满意) or `gbt39046`
    /// (1 = 非常满意).
    #[arg(long, value_enum, default_value = "provincial")]
    satisfaction: SatisfactionCodes,
    /// The CSV's `pf` numbering: `national` (6 电话, 7 短信) or `zhejiang` (6 短信, 7 默认).
    #[arg(long, value_enum, default_value = "national")]
    pf: PfCodes,
    /// Records per group commit.
    #[arg(long, default_value_t = 2000)]
    batch: usize,
    /// The file to import.
    file: PathBuf,
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Entries, key bytes and value bytes of every tree, beside the size of the files on disk
    /// and the bytes per rating (run while the platform is stopped, or on a copy).
    Stats(Common),
    /// Copy the store key by key into a fresh folder, leaving sled's half-full and rewritten
    /// pages behind (run while the platform is stopped). The copy is checked before the folders
    /// change places; the old store stays beside the new one as `store.pre-compact`.
    Compact(Common),
    /// Train a compression dictionary on the store's log (for maintainers: a new dictionary
    /// ships as a new format byte, see core/src/store/codec.rs).
    TrainDictionary {
        #[command(flatten)]
        common: Common,
        /// Where to write the dictionary.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Size of the dictionary in bytes.
        #[arg(long, default_value_t = 32 * 1024)]
        size: usize,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check that no entry of the event log was changed or removed (the log is a hash chain).
    /// Run it while the platform is stopped, or on a copy of the data folder.
    Verify(Common),
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Compile every policy and run the policy tests; the last line is `N passed, N failed`.
    Test {
        /// The rules folder (default: the configured one, `rules`).
        dir: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Run one hook on a JSON input and print its JSON result (deadlines with their due
    /// instants).
    Eval {
        /// deadline, routing, assessment, veto, invitation, default_rating, integrity
        hook: String,
        /// 6-digit county code whose rules decide.
        #[arg(long)]
        county: String,
        /// Input file, or `-` for standard input.
        #[arg(long)]
        input: PathBuf,
        /// The rules folder (default: the configured one).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Evaluate a recorded version (content hash) instead of the folder; needs `--data`.
        #[arg(long)]
        version: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Activate a recorded version again, writing its files back into the rules folder. Run it
    /// while the platform is stopped; a running platform takes `POST /api/v1/rules/rollback`.
    Rollback {
        version: String,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Load an adapter exactly as the server would and decode sample payloads with it.
    Test {
        /// The adapter component.
        file: PathBuf,
        /// Payload files to decode.
        payloads: Vec<PathBuf>,
        /// Content type of the payloads (default: from the file extension).
        #[arg(long)]
        content_type: Option<String>,
        /// Configuration file, for the limits and trusted keys.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Args)]
struct Common {
    /// Configuration file (TOML); defaults apply without one.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen address, overriding the file (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Data folder, overriding the file.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Operations address (`/metrics`, `/readyz` with its detail), overriding `[ops] listen`
    /// (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    ops_listen: Option<SocketAddr>,
}

impl Common {
    fn load(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(self.config.as_deref())?;
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(data) = &self.data {
            config.data_dir = data.clone();
        }
        if let Some(ops) = self.ops_listen {
            config.ops.listen = Some(ops);
        }
        config.validate()?;
        Ok(config)
    }
}

fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HCP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // `HCP_LOG_FORMAT=json`: one JSON object per line (for a log collector); text otherwise.
    if std::env::var("HCP_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json")) {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Commands::Serve(common) => runtime.block_on(hcp_server::run::serve(
            common.load()?,
            hcp_server::run::Production,
        )),
        #[cfg(feature = "demo")]
        Commands::Demo(common) => runtime.block_on(hcp_server::run::serve(
            common.load()?,
            hcp_server::demo::serve::Demo::default(),
        )),
        Commands::Rebuild(common) => hcp_server::run::rebuild(&common.load()?),
        #[cfg(feature = "demo")]
        Commands::ProvinceSim { listen, data } => {
            runtime.block_on(hcp_server::demo::province_sim::serve(listen, &data))
        }
        Commands::Store(StoreCommand::Stats(common)) => {
            hcp_server::run::store_stats(&common.load()?)
        }
        Commands::Store(StoreCommand::Compact(common)) => {
            hcp_server::run::store_compact(&common.load()?)
        }
        Commands::Store(StoreCommand::TrainDictionary { common, out, size }) => {
            hcp_server::run::train_dictionary(&common.load()?, &out, size)
        }
        Commands::Migrate(common) => hcp_server::run::migrate(&common.load()?),
        Commands::Backup(args) => {
            hcp_server::run::backup(&args.common.load()?, &args.to, args.since.as_deref())
        }
        Commands::Restore(args) => hcp_server::run::restore(&args.common.load()?, &args.from),
        Commands::Import(args) => {
            let config = args.common.load()?;
            let options = hcp_server::app::import::ImportOptions {
                source: args.source,
                kind: args.kind,
                format: args.format,
                satisfaction: args.satisfaction,
                pf: args.pf,
                batch: args.batch.clamp(1, 100_000),
                state_dir: config.data_dir.join("imports"),
            };
            hcp_server::run::import(&config, &args.file, &options)
        }
        Commands::Audit(AuditCommand::Verify(common)) => {
            if !hcp_server::run::audit_verify(&common.load()?)? {
                std::process::exit(1);
            }
            Ok(())
        }
        Commands::Rules(command) => {
            let passed = match command {
                RulesCommand::Test { dir, config } => {
                    let config = Config::load(config.as_deref())?;
                    hcp_server::run::rules_test(&config, dir.as_deref())?
                }
                RulesCommand::Eval {
                    hook,
                    county,
                    input,
                    dir,
                    version,
                    common,
                } => hcp_server::run::rules_eval(
                    &common.load()?,
                    &hook,
                    &county,
                    &input,
                    dir.as_deref(),
                    version.as_deref(),
                )?,
                RulesCommand::Rollback { version, common } => {
                    hcp_server::run::rules_rollback(&common.load()?, &version)?
                }
            };
            if !passed {
                std::process::exit(1);
            }
            Ok(())
        }
        Commands::Plugin(PluginCommand::Test {
            file,
            payloads,
            content_type,
            config,
        }) => {
            let mut config = Config::load(config.as_deref())?;
            // Testing never writes into a data folder: its compile cache lives in the temp folder.
            config.plugins.cache_dir = Some(std::env::temp_dir().join("hcp-plugin-test-cache"));
            let passed = hcp_server::app::plugins::test_command(
                &config,
                &file,
                &payloads,
                content_type.as_deref(),
            )?;
            if !passed {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
