//! What each command does.

use std::io::Read;

use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::cli::*;
use crate::credentials::Credentials;
use crate::decode;
use crate::error::{Failure, Kind, Outcome};
use crate::http::{str_field, Admin, Answer, Deployment};
use crate::output::{self, Format};
use crate::profile::{self, AdminAuth, Config, Profile};
use crate::token_cache::{self, TokenRequest};

/// The fields `clients get` shows, in order.
const CLIENT_FIELDS: [&str; 14] = [
    "client_id",
    "name",
    "description",
    "project_id",
    "status",
    "token_endpoint_auth_method",
    "grants",
    "token_ttl",
    "dpop_bound_access_tokens",
    "custom_claims",
    "client_secret_last_four",
    "secret_rotation_pending",
    "created_at",
    "updated_at",
];
const CLIENT_COLUMNS: [(&str, &str); 5] = [
    ("CLIENT ID", "client_id"),
    ("NAME", "name"),
    ("PROJECT", "project_id"),
    ("STATUS", "status"),
    ("GRANTS", "grants"),
];
const PROJECT_FIELDS: [&str; 6] = ["id", "name", "description", "allowed_grants", "created_at", "updated_at"];
const RESOURCE_FIELDS: [&str; 6] = ["id", "identifier", "name", "scopes", "token_ttl", "updated_at"];

/// Run one parsed command line.
pub async fn run(cli: Cli) -> Outcome {
    let global = cli.global;
    let format = if global.json { Format::Json } else { Format::Human };
    match cli.command {
        Command::Login(login) => self::login(&global, login, format).await,
        Command::Logout => logout(&global),
        Command::Profiles => profiles(format),
        Command::Clients(command) => clients(&connect(&global).await?, command, format).await,
        Command::Projects(command) => projects(&connect(&global).await?, command, format).await,
        Command::Resources(command) => resources(&connect(&global).await?, command, format).await,
        Command::Keys(command) => keys(&connect(&global).await?, command, format).await,
        Command::Audit(args) => audit(&connect(&global).await?, args, format).await,
        Command::Tokens(Tokens::Revoke(args)) => revoke(&connect(&global).await?, args, format).await,
        Command::Tokens(Tokens::Introspect(args)) => introspect(args, format).await,
        Command::Federation(Federation::Issuers(command)) => issuers(&connect(&global).await?, command, format).await,
        Command::Token(args) => token(args, format).await,
        Command::Decode(args) => {
            let decoded = decode::decode(&read_argument(&args.token)?)?;
            match format {
                Format::Json => output::json(&json!({"header": decoded.header, "claims": decoded.claims})),
                Format::Human => print!("{}", decoded.render(token_cache::now())),
            }
            Ok(())
        }
        Command::Verify(args) => verify(args, format).await,
    }
}

/// `-` means standard input (so secrets stay out of shell history).
fn read_argument(value: &str) -> Outcome<String> {
    if value != "-" {
        return Ok(value.to_string());
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Failure::other(format!("cannot read standard input: {e}")))?;
    Ok(text.trim().to_string())
}

async fn connect(global: &Global) -> Outcome<Admin> {
    let key = global.admin_key.as_deref().map(read_argument).transpose()?;
    let profile = profile::resolve(global.profile.as_deref(), global.url.as_deref(), key.as_deref())?;
    Admin::connect(&profile).await
}

async fn login(global: &Global, login: Login, format: Format) -> Outcome {
    let url = global.url.clone().ok_or_else(|| Failure::new(Kind::Invalid, "login needs --url <deployment>"))?;
    let auth = match (&login.credentials, &login.client_id, &login.client_secret, &global.admin_key) {
        (Some(path), _, _, _) => {
            let c = Credentials::load(path)?;
            AdminAuth::Client { client_id: c.client_id, client_secret: c.client_secret }
        }
        (None, Some(id), Some(secret), _) => {
            AdminAuth::Client { client_id: id.clone(), client_secret: read_argument(secret)? }
        }
        (None, _, _, Some(key)) => AdminAuth::Key { admin_key: read_argument(key)? },
        _ => {
            return Err(Failure::new(
                Kind::Invalid,
                "login needs --admin-key <key>, or an admin client's --client-id and --client-secret, or --credentials <file>",
            ))
        }
    };
    let profile = Profile { url: Deployment::new(&url)?.base().to_string(), auth };
    // Check both halves before saving anything: the URL is a deployment,
    // and it accepts the credentials.
    let admin = Admin::connect(&profile).await?;
    let metadata = admin.deployment().metadata().await?;
    match admin.call(Method::GET, "/admin/clients?limit=1", None, None).await {
        Ok(_) => {}
        // Authenticated, but without clients:read: a narrower admin client.
        Err(f) if f.kind == Kind::Refused && f.message.starts_with("not allowed") => {
            eprintln!("note: these credentials cannot read clients ({})", f.message)
        }
        Err(f) => return Err(f),
    }
    let mut config = Config::load()?;
    let name = config.chosen_name(global.profile.as_deref());
    config.profiles.insert(name.clone(), profile);
    if login.default || config.default.is_none() {
        config.default = Some(name.clone());
    }
    config.save()?;
    match format {
        Format::Json => {
            output::json(&json!({"profile": name, "issuer": metadata["issuer"], "config": profile::path()?}))
        }
        Format::Human => {
            println!(
                "logged in to {} as profile `{name}` ({})",
                metadata["issuer"].as_str().unwrap_or(&url),
                profile::path()?.display()
            )
        }
    }
    Ok(())
}

fn logout(global: &Global) -> Outcome {
    let mut config = Config::load()?;
    let name = config.chosen_name(global.profile.as_deref());
    if config.profiles.remove(&name).is_none() {
        return Err(Failure::new(Kind::NotFound, format!("no profile `{name}`")));
    }
    if config.default.as_deref() == Some(name.as_str()) {
        config.default = None;
    }
    config.save()?;
    println!("profile `{name}` removed");
    Ok(())
}

fn profiles(format: Format) -> Outcome {
    let config = Config::load()?;
    let rows: Vec<Value> = config
        .profiles
        .iter()
        .map(|(name, p)| {
            let auth = match &p.auth {
                AdminAuth::Key { .. } => "admin key".to_string(),
                AdminAuth::Client { client_id, .. } => format!("admin client {client_id}"),
            };
            json!({"name": name, "url": p.url, "auth": auth, "default": config.default.as_deref() == Some(name.as_str())})
        })
        .collect();
    match format {
        Format::Json => output::json(&Value::Array(rows)),
        Format::Human => output::table(
            &rows,
            &[("PROFILE", "name"), ("URL", "url"), ("AUTHENTICATES WITH", "auth"), ("DEFAULT", "default")],
            |field, row| (field == "default").then(|| if row["default"] == true { "*".into() } else { String::new() }),
        ),
    }
    Ok(())
}

/// `[{audience, scopes}]` from the grant options, if any were given.
fn grants(args: &GrantArgs) -> Outcome<Option<Value>> {
    if let Some(text) = &args.grants_json {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Failure::new(Kind::Invalid, format!("--grants-json is not JSON: {e}")))?;
        return Ok(Some(value));
    }
    Ok(args.audience.as_ref().map(|audience| json!([{"audience": audience, "scopes": args.scopes}])))
}

/// A JSON option's value, if given.
fn json_option(text: &Option<String>, option: &str) -> Outcome<Option<Value>> {
    text.as_ref()
        .map(|t| {
            serde_json::from_str(t).map_err(|e| Failure::new(Kind::Invalid, format!("--{option} is not JSON: {e}")))
        })
        .transpose()
}

fn claims(text: &Option<String>) -> Outcome<Option<Value>> {
    json_option(text, "claims-json")
}

/// A JWK set file's JSON.
fn jwks_file(path: &Option<std::path::PathBuf>) -> Outcome<Option<Value>> {
    path.as_ref()
        .map(|p| {
            let text =
                std::fs::read_to_string(p).map_err(|e| Failure::other(format!("cannot read {}: {e}", p.display())))?;
            serde_json::from_str(&text)
                .map_err(|e| Failure::new(Kind::Invalid, format!("{} is not a JWK set: {e}", p.display())))
        })
        .transpose()
}

/// A JSON object of the options that were given.
fn body(fields: Vec<(&str, Option<Value>)>) -> Value {
    Value::Object(fields.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v))).collect::<Map<_, _>>())
}

/// A lifetime option where 0 means "none" (null).
fn ttl_or_null(ttl: Option<u32>) -> Option<Value> {
    ttl.map(|t| if t == 0 { Value::Null } else { json!(t) })
}

fn show_client(answer: &Answer, format: Format) {
    match format {
        Format::Json => output::json(&answer.json),
        Format::Human => {
            output::fields(&answer.json, &CLIENT_FIELDS);
            if let Some(etag) = &answer.etag {
                println!("{:23}  {etag}", "version (etag)");
            }
        }
    }
}

async fn clients(admin: &Admin, command: Clients, format: Format) -> Outcome {
    match command {
        Clients::Create(args) => {
            let grants = grants(&args.grants)?.ok_or_else(|| {
                Failure::new(Kind::Invalid, "a client needs --audience (with --scope …) or --grants-json")
            })?;
            let request = body(vec![
                ("name", Some(json!(args.name))),
                ("client_id", args.id.map(Value::from)),
                ("project_id", args.project.map(Value::from)),
                ("description", args.description.map(Value::from)),
                ("grants", Some(grants)),
                ("token_ttl", args.token_ttl.map(Value::from)),
                ("dpop_bound_access_tokens", args.dpop_bound.then_some(Value::Bool(true))),
                ("custom_claims", claims(&args.claims_json)?),
                ("token_endpoint_auth_method", args.jwks_file.as_ref().map(|_| json!("private_key_jwt"))),
                ("jwks", jwks_file(&args.jwks_file)?),
                ("federated_credentials", json_option(&args.federated_credentials_json, "federated-credentials-json")?),
            ]);
            if let Some(path) = &args.save {
                // Refuse before creating anything the secret would be lost for.
                crate::files::check_overwrite(path, args.force)?;
            }
            let answer = admin.call(Method::POST, "/admin/clients", Some(&request), None).await?;
            let created = &answer.json;
            // A private_key_jwt client has no secret to show or save.
            let Some(secret) = created["client_secret"].as_str().map(str::to_string) else {
                match format {
                    Format::Json => output::json(created),
                    Format::Human => output::fields(created, &CLIENT_FIELDS),
                }
                return Ok(());
            };
            match &args.save {
                Some(path) => {
                    let credentials = Credentials::from_client(
                        created,
                        &secret,
                        &str_field(created, "issuer")?,
                        &str_field(created, "token_endpoint")?,
                    )?;
                    credentials.save(path, args.force)?;
                    let mut shown = created.clone();
                    shown["client_secret"] = json!(format!("(saved to {})", path.display()));
                    match format {
                        Format::Json => output::json(&shown),
                        Format::Human => {
                            output::fields(&shown, &CLIENT_FIELDS);
                            println!("credentials saved to {} (0600); the secret is not shown again", path.display());
                        }
                    }
                }
                None => match format {
                    Format::Json => output::json(created),
                    Format::Human => {
                        output::fields(created, &CLIENT_FIELDS);
                        println!("{:23}  {secret}", "client_secret");
                        println!("store the secret now: it is not shown again (or use --save <file>)");
                    }
                },
            }
            Ok(())
        }
        Clients::List(args) => {
            let mut query = Vec::new();
            if let Some(p) = &args.project {
                query.push(("project_id", p.clone()));
            }
            if let Some(s) = args.status {
                query.push(("status", format!("{s:?}").to_lowercase()));
            }
            if let Some(n) = &args.name_prefix {
                query.push(("name_prefix", n.clone()));
            }
            let items = pages(admin, "/admin/clients", "clients", query, args.limit, args.all).await?;
            list(&items, "clients", &CLIENT_COLUMNS, format);
            Ok(())
        }
        Clients::Get(id) => {
            show_client(&admin.call(Method::GET, &client_path(&id.id), None, None).await?, format);
            Ok(())
        }
        Clients::Update(args) => {
            let request = body(vec![
                ("name", args.name.map(Value::from)),
                ("description", args.description.map(Value::from)),
                ("grants", grants(&args.grants)?),
                ("token_ttl", ttl_or_null(args.token_ttl)),
                ("dpop_bound_access_tokens", args.dpop_bound.map(Value::Bool)),
                ("custom_claims", claims(&args.claims_json)?),
                ("jwks", jwks_file(&args.jwks_file)?),
                ("federated_credentials", json_option(&args.federated_credentials_json, "federated-credentials-json")?),
            ]);
            let answer =
                admin.call(Method::PATCH, &client_path(&args.id), Some(&request), args.if_match.as_deref()).await?;
            show_client(&answer, format);
            Ok(())
        }
        Clients::Deactivate(edit) => set_status(admin, edit, "inactive", format).await,
        Clients::Activate(edit) => set_status(admin, edit, "active", format).await,
        Clients::Delete(edit) => {
            admin.call(Method::DELETE, &client_path(&edit.id), None, edit.if_match.as_deref()).await?;
            done(format, json!({"deleted": edit.id}), &format!("client {} deleted", edit.id));
            Ok(())
        }
        Clients::Rotate(Rotate::Start(args)) => {
            if let Some(path) = &args.save {
                crate::files::check_overwrite(path, args.force)?;
            }
            let path = format!("{}/secrets/rotate", client_path(&args.id));
            let answer = admin.call(Method::POST, &path, None, args.if_match.as_deref()).await?;
            let secret = str_field(&answer.json, "next_client_secret")?;
            match &args.save {
                Some(file) => {
                    let metadata = admin.deployment().metadata().await?;
                    Credentials::from_client(
                        &answer.json,
                        &secret,
                        &str_field(&metadata, "issuer")?,
                        &str_field(&metadata, "token_endpoint")?,
                    )?
                    .save(file, args.force)?;
                    let mut shown = answer.json.clone();
                    shown["next_client_secret"] = json!(format!("(saved to {})", file.display()));
                    done(format, shown, &format!("rotation started for {}: the new secret is saved to {} (0600); old and new both work until `clients rotate complete`", args.id, file.display()));
                }
                None => {
                    match format {
                        Format::Json => output::json(&answer.json),
                        Format::Human => {
                            println!("rotation started for {}: old and new secrets both work until `clients rotate complete`", args.id);
                            println!("next_client_secret  {secret}");
                            println!("store the secret now: it is not shown again (or use --save <file>)");
                        }
                    }
                }
            }
            Ok(())
        }
        Clients::FederationFailures(id) => {
            let answer =
                admin.call(Method::GET, &format!("{}/federation/failures", client_path(&id.id)), None, None).await?;
            let items = answer.json["failures"].as_array().cloned().unwrap_or_default();
            let columns = [
                ("CREDENTIAL", "credential"),
                ("FAILURES", "count"),
                ("LAST REASON", "last_reason"),
                ("LAST AT", "last_at"),
            ];
            match format {
                Format::Json => output::json(&answer.json),
                Format::Human if items.is_empty() => println!("no failures"),
                Format::Human => output::table(&items, &columns, |_, _| None),
            }
            Ok(())
        }
        Clients::Rotate(Rotate::Complete(edit)) => rotation_step(admin, edit, "complete", format).await,
        Clients::Rotate(Rotate::Cancel(edit)) => rotation_step(admin, edit, "cancel", format).await,
    }
}

/// `/admin/clients/{id}`, the id percent-encoded if it must be.
fn client_path(id: &str) -> String {
    format!("/admin/clients/{}", path_segment(id))
}

/// A path segment: ids are URL-safe by construction, anything else is
/// encoded so it reaches the deployment as typed (and is answered 404).
fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A message for people, or `value` for scripts.
fn done(format: Format, value: Value, message: &str) {
    match format {
        Format::Json => output::json(&value),
        Format::Human => println!("{message}"),
    }
}

async fn set_status(admin: &Admin, edit: Edit, status: &str, format: Format) -> Outcome {
    let answer = admin
        .call(Method::PATCH, &client_path(&edit.id), Some(&json!({"status": status})), edit.if_match.as_deref())
        .await?;
    let what = if status == "active" {
        "can get tokens again"
    } else {
        "gets no new tokens (issued tokens stay valid until they expire)"
    };
    done(format, answer.json, &format!("client {} is {status}: it {what}", edit.id));
    Ok(())
}

async fn rotation_step(admin: &Admin, edit: Edit, step: &str, format: Format) -> Outcome {
    let path = format!("{}/secrets/rotate/{step}", client_path(&edit.id));
    let answer = admin.call(Method::POST, &path, None, edit.if_match.as_deref()).await?;
    let message = if step == "complete" {
        format!("rotation completed for {}: only the new secret works now", edit.id)
    } else {
        format!("rotation cancelled for {}: the new secret is dropped, the old one stays", edit.id)
    };
    done(format, answer.json, &message);
    Ok(())
}

/// Every item of a listing: its first page, or with `all` every page.
async fn pages(
    admin: &Admin,
    path: &str,
    key: &str,
    mut query: Vec<(&str, String)>,
    limit: Option<u16>,
    all: bool,
) -> Outcome<Vec<Value>> {
    if let Some(limit) = limit {
        query.push(("limit", limit.to_string()));
    }
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut pairs = query.clone();
        if let Some(c) = &cursor {
            pairs.push(("cursor", c.clone()));
        }
        let encoded: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", path_segment(v))).collect();
        let url = if encoded.is_empty() { path.to_string() } else { format!("{path}?{}", encoded.join("&")) };
        let answer = admin.call(Method::GET, &url, None, None).await?;
        items.extend(answer.json[key].as_array().cloned().unwrap_or_default());
        cursor = answer.json["next_cursor"].as_str().map(str::to_string);
        if !all || cursor.is_none() {
            if !all && cursor.is_some() {
                eprintln!("(more on the next page: --all lists every one)");
            }
            return Ok(items);
        }
    }
}

fn list(items: &[Value], key: &str, columns: &[(&str, &str)], format: Format) {
    match format {
        Format::Json => output::json(&json!({ key: items })),
        Format::Human if items.is_empty() => println!("no {key}"),
        Format::Human => output::table(items, columns, |field, item| match field {
            "grants" => Some(output::grants(&item["grants"])),
            "scopes" => Some(output::cell(&Value::Array(
                item["scopes"].as_array().map(|s| s.iter().map(|d| d["name"].clone()).collect()).unwrap_or_default(),
            ))),
            _ => None,
        }),
    }
}

fn show(answer: &Answer, fields: &[&str], format: Format) {
    match format {
        Format::Json => output::json(&answer.json),
        Format::Human => {
            let mut shown = answer.json.clone();
            if let Some(scopes) = answer.json["scopes"].as_array() {
                shown["scopes"] = Value::Array(scopes.iter().map(|d| d["name"].clone()).collect());
            }
            output::fields(&shown, fields);
        }
    }
}

async fn projects(admin: &Admin, command: Projects, format: Format) -> Outcome {
    let path = |id: &str| format!("/admin/projects/{}", path_segment(id));
    match command {
        Projects::Create(args) => {
            let request = body(vec![
                ("name", Some(json!(args.name))),
                ("id", args.id.map(Value::from)),
                ("description", args.description.map(Value::from)),
                ("allowed_grants", json_option(&args.allowed_grants_json, "allowed-grants-json")?),
            ]);
            show(&admin.call(Method::POST, "/admin/projects", Some(&request), None).await?, &PROJECT_FIELDS, format);
        }
        Projects::List(page) => {
            let items = pages(admin, "/admin/projects", "projects", Vec::new(), page.limit, page.all).await?;
            list(&items, "projects", &[("PROJECT", "id"), ("NAME", "name"), ("DESCRIPTION", "description")], format);
        }
        Projects::Get(id) => show(&admin.call(Method::GET, &path(&id.id), None, None).await?, &PROJECT_FIELDS, format),
        Projects::Update(args) => {
            let request = body(vec![
                ("name", args.name.map(Value::from)),
                ("description", args.description.map(Value::from)),
                ("allowed_grants", json_option(&args.allowed_grants_json, "allowed-grants-json")?),
            ]);
            let answer = admin.call(Method::PATCH, &path(&args.id), Some(&request), args.if_match.as_deref()).await?;
            show(&answer, &PROJECT_FIELDS, format);
        }
        Projects::Delete(edit) => {
            admin.call(Method::DELETE, &path(&edit.id), None, edit.if_match.as_deref()).await?;
            done(format, json!({"deleted": edit.id}), &format!("project {} deleted", edit.id));
        }
    }
    Ok(())
}

fn scope_list(scopes: &[String]) -> Value {
    Value::Array(scopes.iter().map(|s| json!({"name": s})).collect())
}

async fn resources(admin: &Admin, command: Resources, format: Format) -> Outcome {
    let path = |id: &str| format!("/admin/resources/{}", path_segment(id));
    match command {
        Resources::Create(args) => {
            let request = body(vec![
                ("identifier", Some(json!(args.identifier))),
                ("name", Some(json!(args.name))),
                ("scopes", Some(scope_list(&args.scopes))),
                ("token_ttl", args.token_ttl.map(Value::from)),
            ]);
            show(&admin.call(Method::POST, "/admin/resources", Some(&request), None).await?, &RESOURCE_FIELDS, format);
        }
        Resources::List => {
            let answer = admin.call(Method::GET, "/admin/resources", None, None).await?;
            let items = answer.json["resources"].as_array().cloned().unwrap_or_default();
            list(
                &items,
                "resources",
                &[("RESOURCE", "id"), ("IDENTIFIER", "identifier"), ("NAME", "name"), ("SCOPES", "scopes")],
                format,
            );
        }
        Resources::Get(id) => {
            show(&admin.call(Method::GET, &path(&id.id), None, None).await?, &RESOURCE_FIELDS, format)
        }
        Resources::Update(args) => {
            let request = body(vec![
                ("name", args.name.map(Value::from)),
                ("scopes", (!args.scopes.is_empty()).then(|| scope_list(&args.scopes))),
                ("token_ttl", ttl_or_null(args.token_ttl)),
            ]);
            let answer = admin.call(Method::PATCH, &path(&args.id), Some(&request), args.if_match.as_deref()).await?;
            show(&answer, &RESOURCE_FIELDS, format);
        }
        Resources::Delete(edit) => {
            admin.call(Method::DELETE, &path(&edit.id), None, edit.if_match.as_deref()).await?;
            done(format, json!({"deleted": edit.id}), &format!("resource {} deleted", edit.id));
        }
    }
    Ok(())
}

const ISSUER_FIELDS: [&str; 10] = [
    "id",
    "issuer",
    "name",
    "jwks_uri",
    "audiences",
    "algorithm",
    "max_token_age",
    "single_use",
    "accept_access_tokens",
    "updated_at",
];

fn algorithm_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Rs256 => "RS256",
        Algorithm::Es256 => "ES256",
    }
}

async fn issuers(admin: &Admin, command: Issuers, format: Format) -> Outcome {
    let path = |id: &str| format!("/admin/federation/issuers/{}", path_segment(id));
    match command {
        Issuers::Create(args) => {
            let request = body(vec![
                ("issuer", Some(json!(args.issuer))),
                ("audiences", Some(json!(args.audiences))),
                ("name", args.name.map(Value::from)),
                ("jwks_uri", args.jwks_uri.map(Value::from)),
                ("algorithm", args.algorithm.map(|a| json!(algorithm_name(a)))),
                ("max_token_age", args.max_token_age.map(Value::from)),
                ("single_use", args.reusable_tokens.then_some(json!(false))),
                ("accept_access_tokens", args.accept_access_tokens.map(Value::from)),
            ]);
            show(
                &admin.call(Method::POST, "/admin/federation/issuers", Some(&request), None).await?,
                &ISSUER_FIELDS,
                format,
            );
        }
        Issuers::List => {
            let answer = admin.call(Method::GET, "/admin/federation/issuers", None, None).await?;
            let items = answer.json["issuers"].as_array().cloned().unwrap_or_default();
            let columns = [
                ("ID", "id"),
                ("ISSUER", "issuer"),
                ("AUDIENCES", "audiences"),
                ("ALG", "algorithm"),
                ("SINGLE USE", "single_use"),
            ];
            list(&items, "issuers", &columns, format);
        }
        Issuers::Get(id) => show(&admin.call(Method::GET, &path(&id.id), None, None).await?, &ISSUER_FIELDS, format),
        Issuers::Update(args) => {
            let request = body(vec![
                ("audiences", (!args.audiences.is_empty()).then(|| json!(args.audiences))),
                ("name", args.name.map(Value::from)),
                ("jwks_uri", args.jwks_uri.map(Value::from)),
                ("algorithm", args.algorithm.map(|a| json!(algorithm_name(a)))),
                ("max_token_age", args.max_token_age.map(Value::from)),
                ("accept_access_tokens", args.accept_access_tokens.map(Value::from)),
            ]);
            let answer = admin.call(Method::PATCH, &path(&args.id), Some(&request), args.if_match.as_deref()).await?;
            show(&answer, &ISSUER_FIELDS, format);
        }
        Issuers::Delete(edit) => {
            admin.call(Method::DELETE, &path(&edit.id), None, edit.if_match.as_deref()).await?;
            done(format, json!({"deleted": edit.id}), &format!("issuer {} is no longer trusted", edit.id));
        }
    }
    Ok(())
}

const KEY_COLUMNS: [(&str, &str); 5] = [
    ("KID", "kid"),
    ("STATE", "state"),
    ("CREATED", "created_at"),
    ("ACTIVATED", "activated_at"),
    ("RETIRED", "retired_at"),
];

async fn keys(admin: &Admin, command: Keys, format: Format) -> Outcome {
    let answer = match command {
        Keys::List => admin.call(Method::GET, "/admin/keys", None, None).await?,
        Keys::Rotate(args) => {
            let request = json!({"revoke_current": args.revoke_current});
            admin.call(Method::POST, "/admin/keys/rotate", Some(&request), None).await?
        }
    };
    match format {
        Format::Json => output::json(&answer.json),
        Format::Human => {
            if let Some(mode) = answer.json["mode"].as_str() {
                println!("mode: {mode}");
            }
            let items = answer.json["keys"].as_array().cloned().unwrap_or_default();
            output::table(&items, &KEY_COLUMNS, |_, _| None);
            if let Some(warning) = answer.json["warning"].as_str() {
                println!("warning: {warning}");
            }
        }
    }
    Ok(())
}

/// `tokens revoke`: through the admin API (scope `tokens:revoke`).
async fn revoke(admin: &Admin, args: TokensRevoke, format: Format) -> Outcome {
    let answer = match (args.token, args.jti, args.client, args.project) {
        (Some(token), ..) => {
            let token = read_argument(&token)?;
            let body = json!({"token": token.trim()});
            admin.call(Method::POST, "/admin/tokens/revoke", Some(&body), None).await?
        }
        (_, Some(jti), ..) => {
            admin.call(Method::POST, "/admin/tokens/revoke", Some(&json!({"jti": jti})), None).await?
        }
        (_, _, Some(client), _) => {
            let path = format!("/admin/clients/{}/tokens/revoke", path_segment(&client));
            admin.call(Method::POST, &path, None, None).await?
        }
        (_, _, _, Some(project)) => {
            let path = format!("/admin/projects/{}/tokens/revoke", path_segment(&project));
            admin.call(Method::POST, &path, None, None).await?
        }
        (None, None, None, None) => {
            return Err(Failure::new(Kind::Other, "name a token, --jti, --client or --project"))
        }
    };
    match format {
        Format::Json => output::json(&answer.json),
        Format::Human => match (answer.json["jti"].as_str(), answer.json["not_before"].as_str()) {
            (Some(jti), _) => println!("revoked: jti {jti}, kept until {}", output::cell(&answer.json["kept_until"])),
            (_, Some(time)) => println!("revoked: every token issued before {time}"),
            _ => output::json(&answer.json),
        },
    }
    Ok(())
}

/// `tokens introspect`: RFC 7662, as the client of a credentials file.
async fn introspect(args: TokensIntrospect, format: Format) -> Outcome {
    let credentials = Credentials::load(&args.credentials)?;
    let deployment = Deployment::new(&credentials.issuer)?;
    let token = read_argument(&args.token)?;
    let answer = deployment.introspect(&credentials.client_id, &credentials.client_secret, token.trim()).await?;
    match format {
        Format::Json => output::json(&answer),
        Format::Human if answer["active"] == json!(true) => {
            let now = token_cache::now();
            println!("active: issued to {}", output::cell(&answer["client_id"]));
            println!("aud         {}", output::cell(&answer["aud"]));
            println!("scope       {}", output::cell(&answer["scope"]));
            println!("expires_at  {}", output::timestamp(answer["exp"].as_i64().unwrap_or_default(), now));
        }
        Format::Human => println!("not active (expired, revoked, unknown, or not this client's to see)"),
    }
    Ok(())
}

async fn audit(admin: &Admin, args: AuditArgs, format: Format) -> Outcome {
    let mut query = Vec::new();
    if let Some(p) = args.project {
        query.push(("project_id", p));
    }
    if let Some(s) = args.since {
        query.push(("since", s.to_string()));
    }
    let items = pages(admin, "/admin/audit", "events", query, args.limit, args.all).await?;
    let columns = [
        ("AT", "at"),
        ("ACTOR", "actor"),
        ("ACTION", "action"),
        ("TARGET", "target"),
        ("PROJECT", "project_id"),
        ("FIELDS", "changed_fields"),
    ];
    list(&items, "events", &columns, format);
    Ok(())
}

async fn token(args: TokenArgs, format: Format) -> Outcome {
    let credentials = Credentials::load(&args.credentials)?;
    let deployment = Deployment::new(&credentials.issuer)?;
    let request = TokenRequest {
        token_endpoint: credentials.token_endpoint.clone(),
        client_id: credentials.client_id.clone(),
        client_secret: credentials.client_secret.clone(),
        resource: args.resource.or(credentials.audience.clone()),
        scope: args.scope,
    };
    let answer = token_cache::token(&deployment, &request, !args.no_cache).await?;
    match format {
        Format::Json => output::json(&answer),
        Format::Human => println!("{}", str_field(&answer, "access_token")?),
    }
    Ok(())
}

async fn verify(args: VerifyArgs, format: Format) -> Outcome {
    use m2m_edge_verify::{Requirements, ReqwestFetcher, Verifier};
    let token = read_argument(&args.token)?;
    let verifier = match &args.jwks_uri {
        Some(uri) => Verifier::with_jwks_uri(args.issuer.as_str(), uri.as_str(), ReqwestFetcher::default()),
        None => Verifier::new(args.issuer.as_str(), ReqwestFetcher::default()),
    }
    .audience(args.audience.as_str());
    let bearer = format!("Bearer {}", token.trim().trim_start_matches("Bearer ").trim());
    match verifier.verify(&bearer, &Requirements::scopes(&args.scopes)).await {
        Ok(verified) => {
            let shown = json!({
                "valid": true,
                "client_id": verified.client_id,
                "subject": verified.subject,
                "audience": verified.audience,
                "scopes": verified.scopes,
                "issued_at": verified.issued_at,
                "expires_at": verified.expires_at,
                "jti": verified.jti,
                "claims": verified.claims,
            });
            match format {
                Format::Json => output::json(&shown),
                Format::Human => {
                    let now = token_cache::now();
                    println!("valid: issued by {} for {}", args.issuer, args.audience);
                    println!("client_id   {}", output::cell(&shown["client_id"]));
                    println!("scopes      {}", output::cell(&shown["scopes"]));
                    println!("expires_at  {}", output::timestamp(verified.expires_at, now));
                }
            }
            Ok(())
        }
        Err(rejection) => {
            // 503: the keys could not be had — the issuer, not the token.
            let kind = if rejection.status() == 503 { Kind::Unreachable } else { Kind::TokenInvalid };
            if format == Format::Json {
                output::json(
                    &json!({"valid": false, "status": rejection.status(), "error": rejection.error_code(), "reason": rejection.to_string()}),
                );
            }
            Err(Failure::new(kind, format!("not valid: {rejection}")))
        }
    }
}
