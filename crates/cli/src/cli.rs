//! The command line, as clap parses it: every command and option, with the
//! help `--help` shows.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Manage an m2m-edge deployment and get tokens from it.
///
/// Admin commands use a profile (`m2m-edge login`) or M2M_EDGE_URL and
/// M2M_EDGE_ADMIN_KEY. Exit codes: 0 done, 1 other failure, 2 usage,
/// 3 credentials or permission refused, 4 not found, 5 conflict, 6 invalid
/// request, 7 deployment unreachable, 8 deployment failed or rate limited,
/// 9 token not valid.
#[derive(Debug, Parser)]
#[command(name = "m2m-edge", version, propagate_version = true)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// The profile to use (default: the one `login` made default).
    #[arg(long, global = true, env = "M2M_EDGE_PROFILE")]
    pub profile: Option<String>,
    /// The deployment's URL, over the profile's.
    #[arg(long, global = true, env = "M2M_EDGE_URL")]
    pub url: Option<String>,
    /// The root admin key, over the profile's (`-` reads it from standard input).
    #[arg(long, global = true, env = "M2M_EDGE_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// Print the deployment's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Save a profile: a deployment and admin credentials (0600, in the user's config directory).
    Login(Login),
    /// Forget a profile.
    Logout,
    /// List the saved profiles (never their secrets).
    Profiles,
    /// Clients: create, list, read, change, rotate secrets, delete.
    #[command(subcommand)]
    Clients(Clients),
    /// Projects: tenants inside the deployment.
    #[command(subcommand)]
    Projects(Projects),
    /// API resources: the audiences tokens are for, and their scopes.
    #[command(subcommand)]
    Resources(Resources),
    /// Signing keys.
    #[command(subcommand)]
    Keys(Keys),
    /// The audit trail of admin changes.
    Audit(AuditArgs),
    /// Tokens already issued: revoke them, or ask whether one is still active.
    #[command(subcommand)]
    Tokens(Tokens),
    /// Workload identity federation: the issuers whose tokens stand for clients.
    #[command(subcommand)]
    Federation(Federation),
    /// Get an access token with a credentials file (cached until shortly before it expires).
    Token(TokenArgs),
    /// Show a JWT's header and claims, with readable times (does not verify).
    Decode(DecodeArgs),
    /// Verify an access token as an API would: signature by the issuer's JWKS, issuer, audience, times, scopes.
    Verify(VerifyArgs),
}

/// `login`.
#[derive(Debug, Args)]
pub struct Login {
    /// An admin client's id, instead of the root key.
    #[arg(long, requires = "client_secret", conflicts_with = "credentials")]
    pub client_id: Option<String>,
    /// The admin client's secret (`-` reads it from standard input).
    #[arg(long, requires = "client_id")]
    pub client_secret: Option<String>,
    /// An admin client's credentials file, instead of the root key.
    #[arg(long)]
    pub credentials: Option<PathBuf>,
    /// Make this profile the default.
    #[arg(long)]
    pub default: bool,
}

/// `clients …`.
#[derive(Debug, Subcommand)]
pub enum Clients {
    /// Create a client; its secret is shown once (or saved with --save).
    Create(ClientCreate),
    /// List clients.
    List(ClientList),
    /// Read one client (never its secret).
    Get(Id),
    /// Change a client.
    Update(ClientUpdate),
    /// Stop new tokens for a client.
    Deactivate(Edit),
    /// Let a deactivated client get tokens again.
    Activate(Edit),
    /// Delete a client.
    Delete(Edit),
    /// Rotate a client's secret without downtime.
    #[command(subcommand)]
    Rotate(Rotate),
    /// Why a client's federated requests failed: count and last reason per credential.
    FederationFailures(Id),
}

/// One object by id.
#[derive(Debug, Args)]
pub struct Id {
    /// The id.
    pub id: String,
}

/// A change to one object, optionally conditional.
#[derive(Debug, Args)]
pub struct Edit {
    /// The id.
    pub id: String,
    /// Apply only if the object is still at this version (its ETag, e.g. `"3"`).
    #[arg(long)]
    pub if_match: Option<String>,
}

/// What a client may ask for.
#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The audience of its one grant (an API resource identifier).
    #[arg(long)]
    pub audience: Option<String>,
    /// A scope of that grant (repeat for several).
    #[arg(long = "scope", requires = "audience")]
    pub scopes: Vec<String>,
    /// Several grants as JSON: `[{"audience": "…", "scopes": ["…"]}, …]`.
    #[arg(long, conflicts_with = "audience")]
    pub grants_json: Option<String>,
}

/// `clients create`.
#[derive(Debug, Args)]
pub struct ClientCreate {
    /// A display name.
    #[arg(long)]
    pub name: String,
    /// Choose the client id (3–64 of A-Z a-z 0-9 . _ -); generated otherwise.
    #[arg(long)]
    pub id: Option<String>,
    /// The project it belongs to, for good.
    #[arg(long)]
    pub project: Option<String>,
    /// Free text for operators.
    #[arg(long)]
    pub description: Option<String>,
    /// What it may ask for.
    #[command(flatten)]
    pub grants: GrantArgs,
    /// Its tokens' lifetime in seconds (60–86400).
    #[arg(long)]
    pub token_ttl: Option<u32>,
    /// Require a DPoP proof with every token request, binding each token to the client's key (RFC 9449 §5.2).
    #[arg(long)]
    pub dpop_bound: bool,
    /// Extra claims for its tokens, as a JSON object.
    #[arg(long)]
    pub claims_json: Option<String>,
    /// Authenticate with keys instead of a secret (private_key_jwt): a JWK set file of its public keys.
    #[arg(long, conflicts_with = "save")]
    pub jwks_file: Option<PathBuf>,
    /// Federated credentials, as JSON: `[{"name", "issuer", "subject" | "claims"}]`.
    #[arg(long)]
    pub federated_credentials_json: Option<String>,
    /// Write a credentials file (0600) instead of printing the secret.
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Overwrite the --save file if it exists.
    #[arg(long, requires = "save")]
    pub force: bool,
}

/// `clients list`.
#[derive(Debug, Args)]
pub struct ClientList {
    /// Only this project's.
    #[arg(long)]
    pub project: Option<String>,
    /// Only clients in this status.
    #[arg(long)]
    pub status: Option<Status>,
    /// Only clients whose name starts with this.
    #[arg(long)]
    pub name_prefix: Option<String>,
    /// Every page, not only the first.
    #[arg(long)]
    pub all: bool,
    /// Page size (1–200).
    #[arg(long)]
    pub limit: Option<u16>,
}

/// A client's status.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Status {
    /// Gets tokens.
    Active,
    /// Gets none.
    Inactive,
}

/// `clients update`.
#[derive(Debug, Args)]
pub struct ClientUpdate {
    /// The client.
    pub id: String,
    /// A new name.
    #[arg(long)]
    pub name: Option<String>,
    /// A new description (empty to clear).
    #[arg(long)]
    pub description: Option<String>,
    /// New grants (they replace the old ones).
    #[command(flatten)]
    pub grants: GrantArgs,
    /// A new token lifetime in seconds (0 for the deployment default).
    #[arg(long)]
    pub token_ttl: Option<u32>,
    /// Require DPoP proofs with its token requests (true), or stop requiring them (false).
    #[arg(long)]
    pub dpop_bound: Option<bool>,
    /// New extra claims, as a JSON object (they replace the old ones).
    #[arg(long)]
    pub claims_json: Option<String>,
    /// A private_key_jwt client's new public keys, a JWK set file (they replace the old).
    #[arg(long)]
    pub jwks_file: Option<PathBuf>,
    /// New federated credentials, as JSON (they replace the old).
    #[arg(long)]
    pub federated_credentials_json: Option<String>,
    /// Apply only if the client is still at this version (its ETag).
    #[arg(long)]
    pub if_match: Option<String>,
}

/// `clients rotate …`.
#[derive(Debug, Subcommand)]
pub enum Rotate {
    /// Start: a new secret (shown once, or saved with --save); old and new both work.
    Start(RotateStart),
    /// Complete: only the new secret works from now on.
    Complete(Edit),
    /// Cancel: the new secret is dropped, the old one stays.
    Cancel(Edit),
}

/// `clients rotate start`.
#[derive(Debug, Args)]
pub struct RotateStart {
    /// The client.
    pub id: String,
    /// Write a credentials file with the new secret (0600).
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Overwrite the --save file if it exists.
    #[arg(long, requires = "save")]
    pub force: bool,
    /// Apply only if the client is still at this version (its ETag).
    #[arg(long)]
    pub if_match: Option<String>,
}

/// `projects …`.
#[derive(Debug, Subcommand)]
pub enum Projects {
    /// Create a project.
    Create(ProjectCreate),
    /// List projects.
    List(PageArgs),
    /// Read one project.
    Get(Id),
    /// Change a project.
    Update(ProjectUpdate),
    /// Delete a project (it must have no clients).
    Delete(Edit),
}

/// `projects create`.
#[derive(Debug, Args)]
pub struct ProjectCreate {
    /// A display name.
    #[arg(long)]
    pub name: String,
    /// Choose the id (3–64 of A-Z a-z 0-9 . _ -); generated otherwise.
    #[arg(long)]
    pub id: Option<String>,
    /// Free text for operators.
    #[arg(long)]
    pub description: Option<String>,
    /// What the project's own admin clients may grant, as JSON:
    /// `[{"audience": "…", "scopes": ["…"]}, …]` (none by default).
    #[arg(long)]
    pub allowed_grants_json: Option<String>,
}

/// `projects update`.
#[derive(Debug, Args)]
pub struct ProjectUpdate {
    /// The project.
    pub id: String,
    /// A new name.
    #[arg(long)]
    pub name: Option<String>,
    /// A new description (empty to clear).
    #[arg(long)]
    pub description: Option<String>,
    /// New allowed grants as JSON, replacing the old ones (`[]` for none).
    #[arg(long)]
    pub allowed_grants_json: Option<String>,
    /// Apply only if the project is still at this version (its ETag).
    #[arg(long)]
    pub if_match: Option<String>,
}

/// A paged listing.
#[derive(Debug, Args)]
pub struct PageArgs {
    /// Every page, not only the first.
    #[arg(long)]
    pub all: bool,
    /// Page size (1–200).
    #[arg(long)]
    pub limit: Option<u16>,
}

/// `resources …`.
#[derive(Debug, Subcommand)]
pub enum Resources {
    /// Register an API resource.
    Create(ResourceCreate),
    /// List API resources.
    List,
    /// Read one.
    Get(Id),
    /// Change one.
    Update(ResourceUpdate),
    /// Delete one (no grant may name it).
    Delete(Edit),
}

/// `resources create`.
#[derive(Debug, Args)]
pub struct ResourceCreate {
    /// Its identifier: the tokens' `aud`, an absolute URI; never changes.
    #[arg(long)]
    pub identifier: String,
    /// A display name.
    #[arg(long)]
    pub name: String,
    /// A scope it defines (repeat for several).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// The longest lifetime of its tokens, seconds (60–86400).
    #[arg(long)]
    pub token_ttl: Option<u32>,
}

/// `resources update`.
#[derive(Debug, Args)]
pub struct ResourceUpdate {
    /// The resource.
    pub id: String,
    /// A new name.
    #[arg(long)]
    pub name: Option<String>,
    /// Its scopes (they replace the old ones; repeat for several).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// A new token lifetime cap in seconds (0 for none).
    #[arg(long)]
    pub token_ttl: Option<u32>,
    /// Apply only if the resource is still at this version (its ETag).
    #[arg(long)]
    pub if_match: Option<String>,
}

/// `federation …`.
#[derive(Debug, Subcommand)]
pub enum Federation {
    /// Trusted issuers.
    #[command(subcommand)]
    Issuers(Issuers),
}

/// `federation issuers …`.
#[derive(Debug, Subcommand)]
pub enum Issuers {
    /// Trust an issuer (GitHub Actions, a Kubernetes cluster, any OIDC issuer).
    Create(IssuerCreate),
    /// List trusted issuers.
    List,
    /// Read one.
    Get(Id),
    /// Change one.
    Update(IssuerUpdate),
    /// Stop trusting one (no client's credential may name it).
    Delete(Edit),
}

/// `federation issuers create`.
#[derive(Debug, Args)]
pub struct IssuerCreate {
    /// Its `iss`, exactly, e.g. https://token.actions.githubusercontent.com.
    #[arg(long)]
    pub issuer: String,
    /// An audience its tokens must carry for this deployment (repeat for several).
    #[arg(long = "audience", required = true)]
    pub audiences: Vec<String>,
    /// A display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Its JWK set URL; found through its OIDC metadata otherwise.
    #[arg(long)]
    pub jwks_uri: Option<String>,
    /// The one algorithm its tokens use (default RS256).
    #[arg(long)]
    pub algorithm: Option<Algorithm>,
    /// The oldest token accepted, seconds since its iat (default 3600).
    #[arg(long)]
    pub max_token_age: Option<u32>,
    /// Let one token be used many times (Kubernetes projected tokens).
    #[arg(long)]
    pub reusable_tokens: bool,
    /// Whether its access tokens (typ at+jwt, RFC 9068) are taken as well as its identity tokens (default true).
    #[arg(long, value_name = "true|false")]
    pub accept_access_tokens: Option<bool>,
}

/// `federation issuers update`.
#[derive(Debug, Args)]
pub struct IssuerUpdate {
    /// The issuer's id (tis_…).
    pub id: String,
    /// New audiences (they replace the old; repeat for several).
    #[arg(long = "audience")]
    pub audiences: Vec<String>,
    /// A new name.
    #[arg(long)]
    pub name: Option<String>,
    /// A new JWK set URL.
    #[arg(long)]
    pub jwks_uri: Option<String>,
    /// A new algorithm.
    #[arg(long)]
    pub algorithm: Option<Algorithm>,
    /// A new maximum token age, seconds.
    #[arg(long)]
    pub max_token_age: Option<u32>,
    /// Take its access tokens (typ at+jwt, RFC 9068) or not.
    #[arg(long, value_name = "true|false")]
    pub accept_access_tokens: Option<bool>,
    /// Apply only if the issuer is still at this version (its ETag).
    #[arg(long)]
    pub if_match: Option<String>,
}

/// A trusted issuer's algorithm.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (GitHub, Kubernetes).
    #[value(name = "RS256")]
    Rs256,
    /// ECDSA P-256 with SHA-256.
    #[value(name = "ES256")]
    Es256,
}

/// `keys …`.
#[derive(Debug, Subcommand)]
pub enum Keys {
    /// The signing keys: ids, states, times (never private material).
    List,
    /// Rotate managed keys now.
    Rotate(KeyRotate),
}

/// `keys rotate`.
#[derive(Debug, Args)]
pub struct KeyRotate {
    /// Also drop the old key from the JWKS at once: its tokens stop verifying.
    #[arg(long)]
    pub revoke_current: bool,
}

/// `tokens …`.
#[derive(Debug, Subcommand)]
pub enum Tokens {
    /// Revoke one token (by itself or its jti), or every token a client or a project was issued until now.
    Revoke(TokensRevoke),
    /// Ask whether a token is active (RFC 7662), as a client granted `tokens:introspect`.
    Introspect(TokensIntrospect),
}

/// `tokens revoke`: exactly one of a token, `--jti`, `--client`, `--project`.
#[derive(Debug, Args)]
#[group(id = "what", required = true, multiple = false, args = ["token", "jti", "client", "project"])]
pub struct TokensRevoke {
    /// The token (`-` reads it from standard input).
    pub token: Option<String>,
    /// A token's `jti`.
    #[arg(long)]
    pub jti: Option<String>,
    /// Every token this client was issued until now.
    #[arg(long)]
    pub client: Option<String>,
    /// Every token this project's clients were issued until now.
    #[arg(long)]
    pub project: Option<String>,
}

/// `tokens introspect`.
#[derive(Debug, Args)]
pub struct TokensIntrospect {
    /// The token (`-` reads it from standard input).
    pub token: String,
    /// The credentials file of a client granted `tokens:introspect` (`clients create --save`).
    #[arg(long, env = "M2M_EDGE_CREDENTIALS")]
    pub credentials: PathBuf,
}

/// `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this project's events.
    #[arg(long)]
    pub project: Option<String>,
    /// Only events since this Unix time.
    #[arg(long)]
    pub since: Option<i64>,
    /// Every page.
    #[arg(long)]
    pub all: bool,
    /// Page size (1–200).
    #[arg(long)]
    pub limit: Option<u16>,
}

/// `token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The credentials file (`clients create --save`).
    #[arg(long, env = "M2M_EDGE_CREDENTIALS")]
    pub credentials: PathBuf,
    /// The audience to ask for (RFC 8707 `resource`).
    #[arg(long)]
    pub resource: Option<String>,
    /// The scopes to ask for, space-separated.
    #[arg(long)]
    pub scope: Option<String>,
    /// Always ask the deployment; neither read nor write the cache.
    #[arg(long)]
    pub no_cache: bool,
}

/// `decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The token (`-` reads it from standard input).
    pub token: String,
}

/// `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The token (`-` reads it from standard input).
    pub token: String,
    /// The issuer it must come from; its keys are found through its metadata.
    #[arg(long)]
    pub issuer: String,
    /// The audience it must be for.
    #[arg(long)]
    pub audience: String,
    /// A scope it must carry (repeat for several).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Fetch keys from this JWKS URL instead of the issuer's metadata.
    #[arg(long)]
    pub jwks_uri: Option<String>,
}
