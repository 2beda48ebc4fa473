//! The command line: `gatehouse serve` and the operator's commands around it.
//!
//! Exit status: 0 on success, 1 when an operation is refused or its input is invalid (one line on
//! standard error says what and why), 2 on a usage error (clap's own). A refused command changes
//! nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod access;
pub mod context;
mod embedded;
mod serve;
pub(crate) mod users;

/// Forward-auth server and login portal for reverse proxies.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about, propagate_version = true)]
pub struct Cli {
    /// Configuration file (YAML); repeat to merge several, later files winning. A directory loads
    /// every .yml/.yaml file in it in name order. Without it, Gatehouse uses its embedded default.
    #[arg(
        long = "config",
        short = 'c',
        global = true,
        env = "GATEHOUSE_CONFIG",
        value_name = "FILE"
    )]
    pub config: Vec<PathBuf>,

    /// Data directory of the embedded default (used only without --config).
    #[arg(
        long = "data",
        global = true,
        env = "GATEHOUSE_DATA",
        value_name = "DIR",
        default_value = "gatehouse-data"
    )]
    pub data: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Check configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage users in the database.
    #[command(subcommand)]
    User(UserCommand),
    /// Print an argon2id hash of the password read from standard input, in the users-file format.
    HashPassword(PasswordInput),
    /// Import an Authelia users file (users_database.yml) into the database; safe to repeat.
    ImportUsers {
        /// The users file.
        file: PathBuf,
    },
    /// Test the access rules without running the server.
    #[command(subcommand)]
    Access(AccessCommand),
}

/// `gatehouse access …`
#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Print the policy the access rules give one request, and the rule that decided.
    ///
    /// The rule is named by its 0-based index, as in the key path access_control.rules[N].
    Check {
        /// The request's absolute URL, such as https://app.example.com/path?key=value. A
        /// `_method` query parameter counts as a method override.
        #[arg(long)]
        url: String,
        /// User name of an identified user; without it the request is anonymous.
        #[arg(long)]
        username: Option<String>,
        /// The user's groups, comma-separated.
        #[arg(long, value_delimiter = ',', requires = "username")]
        groups: Vec<String>,
        /// The request's method, in upper-case letters.
        #[arg(long, default_value = "GET")]
        method: String,
        /// The client's IP address; without it the client IP is unknown, so no rule with
        /// networks matches.
        #[arg(long)]
        ip: Option<String>,
        /// Print {"policy": "…", "rule": N} instead, where N is the 0-based rule index, or
        /// null when the default policy decided.
        #[arg(long)]
        json: bool,
    },
}

/// `gatehouse config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate configuration files without starting: errors and warnings with their key paths.
    Check {
        /// The files to check (merged as `serve` would merge them).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Where a password comes from.
#[derive(Debug, Args)]
pub struct PasswordInput {
    /// Read the password as one line from standard input (the only way: never on the command line).
    #[arg(long = "password-stdin", required = true)]
    pub password_stdin: bool,
}

/// `gatehouse user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add {
        /// User name (stored lower-case).
        name: String,
        /// E-mail address.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long = "name", value_name = "DISPLAY_NAME")]
        display_name: String,
        /// Groups, comma-separated.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        #[command(flatten)]
        password: PasswordInput,
    },
    /// Set a user's password; ends the user's sessions.
    Passwd {
        /// User name.
        name: String,
        #[command(flatten)]
        password: PasswordInput,
    },
    /// List all users, disabled ones included.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Disable a user; ends the user's sessions at once.
    Disable {
        /// User name.
        name: String,
    },
    /// Enable a disabled user.
    Enable {
        /// User name.
        name: String,
    },
    /// Replace a user's groups.
    Groups {
        /// User name.
        name: String,
        /// The new groups, comma-separated (an empty value removes every group).
        #[arg(long = "set", value_delimiter = ',', num_args = 0..=1, required = true)]
        set: Vec<String>,
    },
    /// Manage a user's TOTP device.
    #[command(subcommand)]
    Totp(TotpCommand),
}

/// `gatehouse user totp …`
#[derive(Debug, Subcommand)]
pub enum TotpCommand {
    /// Store a TOTP secret for the user and print its otpauth:// URI.
    Generate {
        /// User name.
        name: String,
        /// Base32 secret to store (at least 160 bits); generated when absent.
        #[arg(long)]
        secret: Option<String>,
    },
}

/// An error that ends a command with exit status 1 and one line on standard error.
#[derive(Debug)]
pub struct CliError(pub String);

impl CliError {
    /// Creates an error with its message.
    pub fn new(message: impl Into<String>) -> Self {
        CliError(message.into())
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Runs the parsed command and returns the process's exit status.
pub fn run(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("gatehouse: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(dispatch(cli));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gatehouse: {error}");
            ExitCode::from(1)
        }
    }
}

async fn dispatch(cli: Cli) -> Result<(), CliError> {
    let source = context::ConfigSource::new(&cli.config, &cli.data);
    match cli.command {
        Command::Serve => serve::run(&source).await,
        Command::Config(ConfigCommand::Check { files }) => context::check_config(&files),
        Command::HashPassword(_) => users::hash_password_command(&source).await,
        Command::ImportUsers { file } => users::import(&source, &file).await,
        Command::User(command) => users::run(&source, command).await,
        Command::Access(command) => access::run(&source, command),
    }
}
