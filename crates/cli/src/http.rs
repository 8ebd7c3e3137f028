//! Talking to a deployment: its metadata, its token endpoint and its admin
//! API, with every failure turned into a message that says what to do and
//! an exit class ([`Kind`]).

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::error::{Failure, Kind, Outcome};
use crate::profile::{AdminAuth, Profile};
use crate::token_cache::{self, TokenRequest};

/// One deployment, by its base URL.
#[derive(Debug, Clone)]
pub struct Deployment {
    http: reqwest::Client,
    base: String,
}

/// An answer of the admin API that succeeded.
#[derive(Debug)]
pub struct Answer {
    /// The JSON body (`null` for 204).
    pub json: Value,
    /// The `ETag`, when the answer carries a record.
    pub etag: Option<String>,
}

impl Deployment {
    /// The deployment at `url` (`http://` or `https://`, no query).
    pub fn new(url: &str) -> Outcome<Deployment> {
        let base = url.trim().trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|e| Failure::new(Kind::Unreachable, format!("`{url}` is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() {
            return Err(Failure::new(Kind::Unreachable, format!("`{url}` is not an http(s) URL of a deployment")));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("m2m-edge-cli/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| Failure::other(format!("cannot start an HTTP client: {e}")))?;
        Ok(Deployment { http, base })
    }

    /// The base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Outcome<(StatusCode, Option<String>, String)> {
        let response = request
            .send()
            .await
            .map_err(|e| Failure::new(Kind::Unreachable, format!("cannot reach {}: {}", self.base, without_url(&e))))?;
        let status = response.status();
        let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = response.text().await.map_err(|e| {
            Failure::new(Kind::Unreachable, format!("{} broke off its answer: {}", self.base, without_url(&e)))
        })?;
        Ok((status, etag, body))
    }

    /// RFC 8414 metadata; a clear failure when the URL is not a deployment.
    pub async fn metadata(&self) -> Outcome<Value> {
        let url = format!("{}/.well-known/oauth-authorization-server", self.base);
        let (status, _, body) = self.send(self.http.get(&url)).await?;
        let document: Option<Value> = serde_json::from_str(&body).ok();
        match document {
            Some(d) if status.is_success() && d["token_endpoint"].is_string() && d["issuer"].is_string() => Ok(d),
            _ => Err(Failure::new(
                Kind::Unreachable,
                format!("{} does not look like an m2m-edge deployment: GET {url} answered {status} without authorization server metadata", self.base),
            )),
        }
    }

    /// RFC 7662 introspection of `token`, authenticated as a client
    /// (`client_secret_basic`): the answer, `{"active": false}` included.
    pub async fn introspect(&self, client_id: &str, client_secret: &str, token: &str) -> Outcome<Value> {
        let url = format!("{}/oauth2/introspect", self.base);
        let (user, password) = (form_urlencode(client_id), form_urlencode(client_secret));
        let builder = self.http.post(&url).basic_auth(user, Some(password)).form(&[("token", token)]);
        let (status, _, body) = self.send(builder).await?;
        let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if status.is_success() && json["active"].is_boolean() {
            return Ok(json);
        }
        let why = describe_error(&json, status);
        Err(Failure::new(
            Kind::of_status(status.as_u16()),
            format!("the introspection endpoint refused the request: {why}"),
        ))
    }

    /// A client-credentials token request (`client_secret_basic`).
    pub async fn request_token(&self, request: &TokenRequest) -> Outcome<Value> {
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        if let Some(resource) = &request.resource {
            form.push(("resource", resource));
        }
        if let Some(scope) = &request.scope {
            form.push(("scope", scope));
        }
        // RFC 6749 §2.3.1: Basic credentials are form-urlencoded first.
        let user = form_urlencode(&request.client_id);
        let password = form_urlencode(&request.client_secret);
        let builder = self.http.post(&request.token_endpoint).basic_auth(user, Some(password)).form(&form);
        let (status, _, body) = self.send(builder).await?;
        let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if status.is_success() && json["access_token"].is_string() {
            return Ok(json);
        }
        let kind = Kind::of_status(status.as_u16());
        let why = describe_error(&json, status);
        Err(Failure::new(
            kind,
            match status.as_u16() {
                401 => format!("the token endpoint refused client `{}`: {why} (a wrong or retired secret, or an inactive or deleted client)", request.client_id),
                _ => format!("the token endpoint refused the request: {why}"),
            },
        ))
    }
}

/// The admin API of a deployment, authenticated.
#[derive(Debug)]
pub struct Admin {
    deployment: Deployment,
    bearer: String,
}

impl Admin {
    /// Authenticate as `profile` says: the root key as it is, an admin
    /// client through a (cached) token for `<issuer>/admin`.
    pub async fn connect(profile: &Profile) -> Outcome<Admin> {
        let deployment = Deployment::new(&profile.url)?;
        let bearer = match &profile.auth {
            AdminAuth::Key { admin_key } => admin_key.clone(),
            AdminAuth::Client { client_id, client_secret } => {
                let metadata = deployment.metadata().await?;
                let request = TokenRequest {
                    token_endpoint: str_field(&metadata, "token_endpoint")?,
                    client_id: client_id.clone(),
                    client_secret: client_secret.clone(),
                    resource: Some(str_field(&metadata, "admin_audience")?),
                    scope: None,
                };
                let token = token_cache::token(&deployment, &request, true).await?;
                str_field(&token, "access_token")?
            }
        };
        Ok(Admin { deployment, bearer })
    }

    /// The deployment behind this admin API.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// One admin call; non-2xx answers become failures.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Outcome<Answer> {
        let url = format!("{}{path}", self.deployment.base);
        let mut builder = self.deployment.http.request(method.clone(), &url).bearer_auth(&self.bearer);
        if let Some(body) = body {
            builder = builder.json(body);
        }
        if let Some(tag) = if_match {
            builder = builder.header("if-match", tag);
        }
        let (status, etag, text) = self.deployment.send(builder).await?;
        let json: Option<Value> = if text.is_empty() { Some(Value::Null) } else { serde_json::from_str(&text).ok() };
        let Some(json) = json else {
            return Err(Failure::new(
                Kind::Unreachable,
                format!(
                    "{method} {url} answered {status} with a body that is not JSON: is {} an m2m-edge deployment?",
                    self.deployment.base
                ),
            ));
        };
        if status.is_success() {
            return Ok(Answer { json, etag });
        }
        let why = describe_error(&json, status);
        let message = match status.as_u16() {
            401 => format!("the deployment refused the admin credentials: {why}; run `m2m-edge login` again"),
            403 => format!("not allowed: {why}"),
            404 if json["error_description"] == "no such endpoint" => {
                format!("{url} is not an admin route of this deployment: {why}")
            }
            409 => {
                let mut m = format!("conflict: {why}");
                if let Some(clients) = json["clients"].as_array() {
                    let names: Vec<&str> = clients.iter().filter_map(Value::as_str).collect();
                    m.push_str(&format!(" (clients: {})", names.join(", ")));
                }
                m
            }
            412 => format!("changed since it was read: {why}"),
            _ => why,
        };
        Err(Failure::new(Kind::of_status(status.as_u16()), message))
    }
}

/// `error: description (status)` from an RFC 6749 §5.2 body.
fn describe_error(json: &Value, status: StatusCode) -> String {
    match (json["error"].as_str(), json["error_description"].as_str()) {
        (Some(error), Some(description)) => format!("{error}: {description} ({})", status.as_u16()),
        (Some(error), None) => format!("{error} ({})", status.as_u16()),
        _ => format!("HTTP {status}"),
    }
}

/// A string field of a JSON answer.
pub fn str_field(json: &Value, name: &str) -> Outcome<String> {
    json[name]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Failure::new(Kind::Unreachable, format!("the deployment's answer has no `{name}`")))
}

/// A transport error's reason, with its causes, without repeating the URL.
fn without_url(e: &reqwest::Error) -> String {
    let mut reason = String::from(if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    });
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        reason.push_str(": ");
        reason.push_str(&inner.to_string());
        source = inner.source();
    }
    reason
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_urlencoded_first() {
        assert_eq!(form_urlencode("a b+c/é"), "a+b%2Bc%2F%C3%A9");
        assert_eq!(form_urlencode("m2m_abc.DEF-1"), "m2m_abc.DEF-1");
    }

    #[test]
    fn only_http_urls_are_deployments() {
        assert!(Deployment::new("http://127.0.0.1:8787/").is_ok());
        assert_eq!(Deployment::new("https://auth.example.com/").unwrap().base(), "https://auth.example.com");
        for bad in ["ftp://x", "not a url", "https://x/?q=1"] {
            assert_eq!(Deployment::new(bad).unwrap_err().kind, Kind::Unreachable, "{bad}");
        }
    }
}
